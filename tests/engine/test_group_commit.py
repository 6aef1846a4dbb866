"""Group commit (``Market.grouped``): operations of many threads share one transaction and
one commit, each all-or-nothing on its own, each answered only after the commit."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine import Market
from engine.errors import InsufficientCredits
from engine.services.group_commit import GroupCommit

CRASHER = Path(__file__).with_name("group_commit_crash.py")


def _poster(market: Market, credits: int) -> str:
    market.configure(registration_grant=0)
    agent = market.register_agent(name="Poster", capabilities=["x"], owner_email="p@example.com").agent.id
    market.grant(agent, credits)
    return agent


def test_one_failing_operation_leaves_the_others_of_its_batch_committed(tmp_path: Path) -> None:
    market = Market(tmp_path / "m.db")
    poster = _poster(market, 100)
    holding = threading.Event()
    release = threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> str:
        holding.set()
        release.wait(10)  # keeps the writer busy while the next two queue up for the same batch
        return market.post_task(poster, title="first", budget=10).id

    def run(name: str, operation) -> None:  # type: ignore[no-untyped-def]
        try:
            outcomes[name] = market.grouped(operation)
        except Exception as exc:  # noqa: BLE001 (the outcome under test)
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=("first", first))]
    threads[0].start()
    assert holding.wait(10)
    threads += [threading.Thread(target=run, args=("overdraft", lambda: market.post_task(
                    poster, title="too dear", budget=1000).id)),
                threading.Thread(target=run, args=("third", lambda: market.post_task(
                    poster, title="third", budget=20).id))]
    for thread in threads[1:]:
        thread.start()
    while market.group_commit._jobs.qsize() < 2:  # both queued behind the first: one batch
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert isinstance(outcomes["overdraft"], InsufficientCredits)
    titles = {market.get_task(outcomes[n]).title for n in ("first", "third")}  # type: ignore[arg-type]
    assert titles == {"first", "third"}
    assert market.balance(poster) == 70
    assert market.count_tasks() == 2
    assert market.verify_ledger().ok and market.verify_counters().ok
    market.close()


def test_concurrent_posts_from_one_wallet_refuse_exactly_the_overdrafts(tmp_path: Path) -> None:
    market = Market(tmp_path / "m.db")
    poster = _poster(market, 95)
    results: list[object] = []
    lock = threading.Lock()

    def post(n: int) -> None:
        try:
            task = market.grouped(lambda: market.post_task(poster, title=f"job {n}", budget=10))
        except InsufficientCredits as exc:
            task = exc
        with lock:
            results.append(task)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    posted = [r for r in results if not isinstance(r, InsufficientCredits)]
    assert len(results) == 24 and len(posted) == 9  # 95 credits cover nine budgets of 10
    assert market.balance(poster) == 5
    assert market.verify_ledger().ok
    market.close()


def test_a_failed_commit_fails_every_operation_of_its_batch(tmp_path: Path) -> None:
    market = Market(tmp_path / "m.db")
    poster = _poster(market, 100)

    class Refused(Exception):
        pass

    def batch_that_cannot_commit():  # type: ignore[no-untyped-def]
        from contextlib import contextmanager

        @contextmanager
        def batch():  # type: ignore[no-untyped-def]
            with market.batch():
                yield
                raise Refused("the commit failed")  # the batch rolls back instead of committing
        return batch()

    group = GroupCommit(batch_that_cannot_commit)
    with pytest.raises(Refused):
        group.run(lambda: market.post_task(poster, title="lost", budget=10))
    group.close()
    assert market.count_tasks() == 0 and market.balance(poster) == 100
    market.close()


def test_a_crash_between_commit_and_answer_keeps_the_post_and_its_stored_answer(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with Market(db) as market:
        market.configure(registration_grant=100)
        registration = market.register_agent(name="Poster", capabilities=["x"], owner_email="p@example.com")
    # The child posts with an Idempotency-Key through the dispatcher and is killed (SIGKILL)
    # right after its group's commit, before any answer.
    child = subprocess.run([sys.executable, str(CRASHER), str(db), registration.api_key], capture_output=True,
                           text=True, timeout=60)
    assert child.returncode == -9, child.stderr
    assert "answered" not in child.stdout
    from engine.server import Dispatcher

    with Market(db) as market:
        assert market.count_tasks() == 1
        retry = Dispatcher(market).handle("POST", "/api/tasks", {"X-API-Key": registration.api_key,
                                                                  "Idempotency-Key": "crash-between-1234",
                                                                  "Content-Type": "application/json"},
                                          b'{"title": "kept", "budget": 10}')
        assert retry.status == 201
        assert ("Idempotent-Replayed", "true") in retry.headers
        assert market.count_tasks() == 1 and market.balance(registration.agent.id) == 90
        assert market.verify_ledger().ok


def test_a_snapshot_reads_one_moment_and_refuses_writes(tmp_path: Path) -> None:
    market = Market(tmp_path / "m.db")
    poster = _poster(market, 100)
    other = Market(tmp_path / "m.db")
    with market.snapshot():
        before = market.balance(poster)
        other.post_task(poster, title="elsewhere", budget=30)  # another connection commits meanwhile
        assert market.balance(poster) == before == 100  # still the snapshot's moment
        with pytest.raises(Exception, match="snapshot"):
            market.post_task(poster, title="inside", budget=1)
    assert market.balance(poster) == 70
    other.close()
    market.close()
