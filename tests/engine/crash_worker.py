"""A stream of market operations for the kill -9 test: ``python crash_worker.py MARKET RUN``.

Writes one line per operation only AFTER it returned (so every line is a promise that
the operation committed), unbuffered: ``agent ID``, ``posted ID BUDGET``,
``accepted ID``, ``completed ID`` or ``cancelled ID``. Runs until killed.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import Market  # noqa: E402


def say(*words: object) -> None:
    # One write(2) per line: a pipe write this small is atomic, so a kill never tears a line.
    os.write(1, (" ".join(map(str, words)) + "\n").encode())


def main(path: str, run: str) -> None:
    market = Market(path)
    poster = market.register_agent(name=f"Poster{run}", capabilities=["x"], owner_email="p@example.com").agent.id
    say("agent", poster)
    worker = market.register_agent(name=f"Worker{run}", capabilities=["x"], owner_email="w@example.com").agent.id
    say("agent", worker)
    market.grant(poster, 10**8)
    for n in itertools.count(1):
        budget = n % 97 + 1
        task_id = market.post_task(poster, title=f"Task {n}", budget=budget, required_capabilities=["x"]).id
        say("posted", task_id, budget)
        if n % 4 == 0:
            market.cancel_task(task_id, poster)
            say("cancelled", task_id)
            continue
        market.accept_task(task_id, worker)
        say("accepted", task_id)
        market.complete_task(task_id, worker, f"result {n}")
        say("completed", task_id)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
