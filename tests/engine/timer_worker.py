"""One contender of a race, or a sweep to kill, in its own process (SPEC §10 timers).

``python timer_worker.py MARKET NOW GO_FILE OP TASK [ACTOR [ARG]]``: opens the market with its
clock stuck at ``NOW`` (RFC 3339), prints ``ready``, waits until ``GO_FILE`` exists (so that
several processes start at once), runs ``OP`` and prints ``ok`` or the error's code.

OPs: ``sweep`` (prints ``start`` first, then ``ok N`` with how many tasks it changed),
``complete``, ``approve``, ``release`` (ACTOR acts), ``resolve`` (ACTOR settles with share ARG).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import Market, MarketError  # noqa: E402


def say(*words: object) -> None:
    os.write(1, (" ".join(map(str, words)) + "\n").encode())  # one write: a kill never tears a line


def main(path: str, now: str, go_file: str, op: str, task_id: str, actor: str = "", arg: str = "") -> None:
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    market = Market(path, clock=lambda: moment)
    say("ready")
    while not os.path.exists(go_file):
        time.sleep(0.001)
    try:
        if op == "sweep":
            say("start")
            say("ok", len(market.sweep()))
            return
        if op == "complete":
            market.complete_task(task_id, actor, "late work")
        elif op == "approve":
            market.approve_task(task_id, actor)
        elif op == "release":
            market.release_task(task_id, actor)
        elif op == "resolve":
            market.resolve_task(task_id, actor, int(arg), "settled")
        else:
            raise SystemExit(f"unknown op {op}")
        say("ok")
    except MarketError as error:
        say(error.code)


if __name__ == "__main__":
    main(*sys.argv[1:])
