"""A process killed with SIGKILL mid-stream leaves a market that verifies and holds every
operation that had returned."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import Market

WORKER = Path(__file__).with_name("crash_worker.py")
#: How far each printed step has got: the market may be one unprinted step further.
NEXT_STATES = {"posted": {"open", "assigned", "cancelled"}, "accepted": {"assigned", "completed"},
               "completed": {"completed"}, "cancelled": {"cancelled"}}


def run_and_kill(path: Path, run: int, lines_before_kill: int, rng: random.Random) -> list[list[str]]:
    """Start the worker, read ``lines_before_kill`` lines, wait a random moment, SIGKILL it; return the lines."""
    process = subprocess.Popen([sys.executable, str(WORKER), str(path), str(run)], stdout=subprocess.PIPE,
                               text=True, bufsize=1)
    try:
        lines = [process.stdout.readline().split() for _ in range(lines_before_kill)]
        time.sleep(rng.uniform(0, 0.01))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        lines += [line.split() for line in process.stdout.read().splitlines()]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    return [line for line in lines if line]


@pytest.mark.slow
def test_sigkill_mid_stream_loses_nothing_that_returned(market_path: Path) -> None:
    rng = random.Random(20260313)
    for run, lines_before_kill in enumerate((3, 40, 150, rng.randint(200, 600))):
        lines = run_and_kill(market_path, run, lines_before_kill, rng)
        promised: dict[str, tuple[str, int]] = {}
        agents = []
        for verb, key, *rest in lines:
            if verb == "agent":
                agents.append(key)
            elif verb == "posted":
                promised[key] = ("posted", int(rest[0]))
            else:
                promised[key] = (verb, promised[key][1])
        with Market(market_path) as market:
            report = market.verify_ledger()
            assert report.ok, report.failed()
            for agent_id in agents:
                market.get_agent(agent_id)
            for task_id, (step, budget) in promised.items():
                task = market.get_task(task_id)
                assert task.budget == budget
                assert task.status in NEXT_STATES[step], (step, task.status)
                if step == "completed":
                    assert task.result is not None
        assert len(lines) >= lines_before_kill
