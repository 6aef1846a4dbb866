"""Running ``agentmarket`` in-process (click's CliRunner) against a market file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agentmarket_tui.cli import main
from engine import Market
from tests.support.server import ServerProcess, server_process

_ENV = ("AGENTMARKET_DB", "AGENTMARKET_URL", "AGENTMARKET_API_KEY")


@dataclass
class Cli:
    """``agentmarket`` on one market file: ``cli("tasks", "list", key=...)``."""

    db: Path

    def __call__(self, *args: str, key: str | None = None, target: list[str] | None = None) -> Result:
        where = target if target is not None else ["--db", str(self.db)]
        auth = ["--api-key", key] if key else []
        return CliRunner().invoke(main, [*args, *where, *auth], catch_exceptions=False)

    def json(self, *args: str, key: str | None = None) -> Any:
        """Run with ``--json``; the command must succeed and print JSON."""
        result = self(*args, "--json", key=key)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def register(self, name: str, *capabilities: str, price: int = 0) -> tuple[str, str]:
        """Register an agent; returns (id, api_key)."""
        caps = [arg for c in capabilities or ("coding",) for arg in ("--capability", c)]
        data = self.json("register", "--name", name, *caps, "--owner-email", f"{name.lower()}@example.com",
                         "--price", str(price))
        return data["id"], data["api_key"]

    def market(self) -> Market:
        return Market(self.db)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    yield Cli(tmp_path / "market.db")


def one_error_line(result: Result) -> str:
    """The single stderr line of a failed command (asserting there is exactly one, no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def agentmarket_process(*args: str, **options: Any) -> subprocess.Popen[bytes]:
    """``agentmarket ARGS`` as a child process of this Python (stdout and stderr piped)."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV}
    return subprocess.Popen([sys.executable, "-c", "from agentmarket_tui.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **options)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real ``agentmarket serve`` child process on a free loopback port (private URLs allowed)."""
    with server_process(tmp_path / "served.db") as server:
        yield server
