"""Post once through the dispatcher and die by SIGKILL right after the group's commit, before
the answer: ``python group_commit_crash.py MARKET API_KEY`` (for test_group_commit)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import Market  # noqa: E402
from engine.server import Dispatcher  # noqa: E402
from engine.services.group_commit import GroupCommit  # noqa: E402


def main(path: str, api_key: str) -> None:
    market = Market(path)

    @contextmanager
    def batch_then_die() -> Iterator[None]:
        with market.batch():
            yield
        os.kill(os.getpid(), signal.SIGKILL)  # committed; no waiting request has been answered

    market.group_commit = GroupCommit(batch_then_die)
    response = Dispatcher(market).handle("POST", "/api/tasks", {"X-API-Key": api_key,
                                                                "Idempotency-Key": "crash-between-1234",
                                                                "Content-Type": "application/json"},
                                         b'{"title": "kept", "budget": 10}')
    print("answered", response.status, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
