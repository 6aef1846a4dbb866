"""SPEC §10 in the engine: deadlines, claim windows, review and disputes, and the sweeps that
apply lapsed timers. Time moves only through the market's clock (never a sleep)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import Market, fees
from engine.states import OPERATOR
from tests.support.server import as_db

from .conftest import assert_refused, register
from .test_concurrency import race

START = datetime(2026, 3, 13, 12, 0, 0, tzinfo=UTC)
WORKER = Path(__file__).with_name("timer_worker.py")


class Clock:
    """The market's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Timed:
    market: Market
    clock: Clock
    poster: str
    worker: str
    judge: str

    def post(self, budget: int = 20, **timers: Any) -> str:
        return self.market.post_task(self.poster, title="Timed", budget=budget, **timers).id

    def submitted(self, budget: int = 20, **timers: Any) -> str:
        """A task whose result awaits the poster's review (1 hour)."""
        task_id = self.post(budget, review_hours=1, evaluator_id=self.judge, **timers)
        self.market.accept_task(task_id, self.worker)
        self.market.complete_task(task_id, self.worker, "the work")
        return task_id

    def disputed(self, budget: int = 20) -> str:
        task_id = self.submitted(budget)
        self.market.reject_task(task_id, self.poster, "Not what I asked for")
        return task_id

    def balances(self) -> tuple[int, int, int, int]:
        m = self.market
        return m.balance(self.poster), m.balance(self.worker), m.balance(self.judge), m.stats().fees_collected


@pytest.fixture
def timed(market_path: Path) -> Iterator[Timed]:
    clock = Clock()
    market = Market(market_path, clock=clock)
    cast = Timed(market, clock, register(market, "Poster"), register(market, "Worker"), register(market, "Judge"))
    market.grant(cast.poster, 900)
    yield cast
    assert market.verify_ledger().ok, market.verify_ledger().failed()
    market.close()


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- deadlines -------------------------------------------------------------------------------
def test_an_open_task_expires_at_its_deadline_and_is_refunded_once(timed: Timed) -> None:
    m = timed.market
    task_id = timed.post(deadline=at(START + timedelta(hours=1)))
    assert m.get_task(task_id).deadline == "2026-03-13T13:00:00Z"
    timed.clock.advance(minutes=59, seconds=59)
    assert m.sweep() == []
    timed.clock.advance(seconds=1)
    assert_refused(m, lambda: m.accept_task(task_id, timed.worker), "task_expired", 409)  # before any sweep
    (expired,) = m.sweep()
    assert (expired.id, expired.status, expired.escrow) == (task_id, "expired", 0)
    assert m.balance(timed.poster) == 1000
    assert m.sweep() == []  # idempotent
    assert_refused(m, lambda: m.accept_task(task_id, timed.worker), "task_expired", 409)  # after it too
    assert_refused(m, lambda: m.cancel_task(task_id, timed.poster), "invalid_state", 409)
    assert [e.type for e in m.task_timeline(task_id)] == ["task.posted", "task.expired"]
    assert m.ledger.transactions(timed.poster)[0].kind == "refund"


def test_the_default_deadline_is_the_market_s_setting(timed: Timed) -> None:
    m = timed.market
    assert m.get_task(timed.post()).deadline == at(START + timedelta(days=7))
    m.configure(default_task_ttl=3600)
    assert m.get_task(timed.post()).deadline == at(START + timedelta(hours=1))
    with pytest.raises(Exception):
        m.configure(default_task_ttl=59)


# -- claim windows ---------------------------------------------------------------------------
def test_a_lapsed_claim_reopens_the_task_and_counts_against_the_assignee(timed: Timed) -> None:
    m = timed.market
    task_id = timed.post(claim_seconds=600)
    assert m.accept_task(task_id, timed.worker).claim_expires_at == at(START + timedelta(minutes=10))
    timed.clock.advance(minutes=10)
    (reopened,) = m.sweep()
    assert (reopened.status, reopened.assigned_to, reopened.escrow, reopened.claim_expires_at) == \
        ("open", None, 20, None)
    assert m.get_agent(timed.worker).missed_claims == 1
    assert [e.type for e in m.task_timeline(task_id)][-1] == "task.claim_expired"
    assert m.accept_task(task_id, timed.judge).status == "assigned"  # open to anyone again


def test_a_claim_lapsing_past_the_deadline_expires_the_task(timed: Timed) -> None:
    m = timed.market
    task_id = timed.post(claim_seconds=7200, deadline=at(START + timedelta(hours=1)))
    m.accept_task(task_id, timed.worker)
    timed.clock.advance(hours=1)
    assert m.sweep() == []  # assigned: the deadline waits for the claim
    timed.clock.advance(hours=1)
    (expired,) = m.sweep()
    assert (expired.status, expired.escrow) == ("expired", 0)
    assert m.balance(timed.poster) == 1000 and m.get_agent(timed.worker).missed_claims == 1
    assert [e.type for e in m.task_timeline(task_id)][-2:] == ["task.claim_expired", "task.expired"]


# -- review ----------------------------------------------------------------------------------
def test_review_holds_the_escrow_until_approval(timed: Timed) -> None:
    m = timed.market
    task_id = timed.submitted()
    task = m.get_task(task_id)
    assert (task.status, task.escrow, task.result, task.review_ends_at) == \
        ("submitted", 20, "the work", at(START + timedelta(hours=1)))
    assert m.balance(timed.worker) == 100
    assert_refused(m, lambda: m.approve_task(task_id, timed.worker), "not_poster", 403)
    assert_refused(m, lambda: m.approve_task(task_id, timed.judge), "not_poster", 403)
    assert m.approve_task(task_id, timed.poster).status == "completed"
    assert m.balance(timed.worker) == 100 + 18 and m.get_agent(timed.worker).total_tasks == 1
    assert_refused(m, lambda: m.approve_task(task_id, timed.poster), "invalid_state", 409)
    assert m.rate_task(task_id, timed.poster, 5).rating == 5


def test_no_decision_in_the_review_window_approves_on_its_own(timed: Timed) -> None:
    m = timed.market
    task_id = timed.submitted()
    timed.clock.advance(minutes=59)
    assert m.sweep() == []
    timed.clock.advance(minutes=1)
    (approved,) = m.sweep()
    assert (approved.status, approved.escrow) == ("completed", 0)
    assert m.balance(timed.worker) == 118
    event = m.task_timeline(task_id)[-1]
    assert (event.type, event.agent_id) == ("task.approved", timed.worker)


def test_the_seed_flow_pays_on_complete(timed: Timed) -> None:
    m = timed.market
    task_id = timed.post(25)
    m.accept_task(task_id, timed.worker)
    assert m.complete_task(task_id, timed.worker, "done").status == "completed"
    assert (m.balance(timed.worker), m.stats().fees_collected) == (122, 3)
    assert_refused(m, lambda: m.approve_task(task_id, timed.poster), "invalid_state", 409)
    assert_refused(m, lambda: m.reject_task(task_id, timed.poster, "late"), "invalid_state", 409)


# -- disputes --------------------------------------------------------------------------------
@pytest.mark.parametrize(("budget", "share", "fee_percent"), [
    (20, 40, 10), (25, 50, 10), (7, 49, 10), (100, 100, 10), (100, 0, 10), (3, 33, 10), (99, 1, 10),
    (1, 99, 10), (50, 60, 0), (50, 60, 100), (1_000, 37, 15),
])
def test_a_dispute_settles_as_the_spec_s_arithmetic(timed: Timed, budget: int, share: int, fee_percent: int) -> None:
    m = timed.market
    m.configure(fee_percent=fee_percent)
    task_id = timed.disputed(budget)
    poster, worker, judge, collected = timed.balances()
    settled = m.resolve_task(task_id, timed.judge, share, "split")
    p = budget * share // 100
    pay = p * (100 - fee_percent) // 100
    assert timed.balances() == (poster + budget - p, worker + pay, judge, collected + p - pay)
    assert pay == fees.split(p, fee_percent)[0]
    assert (settled.status, settled.escrow, settled.worker_share) == ("completed" if p else "refunded", 0, share)
    agent = m.get_agent(timed.worker)
    assert (agent.disputes_lost, agent.total_tasks) == (int(share < 50), int(p > 0))
    assert m.task_timeline(task_id)[-1].data == {"worker_share": share, "note": "split"}


def test_the_operator_settles_any_dispute_and_only_once(timed: Timed) -> None:
    m = timed.market
    task_id = timed.disputed()
    assert_refused(m, lambda: m.resolve_task(task_id, timed.poster, 50), "not_evaluator", 403)
    assert_refused(m, lambda: m.resolve_task(task_id, timed.worker, 50), "not_evaluator", 403)
    assert m.resolve_task(task_id, OPERATOR, 100).status == "completed"
    assert_refused(m, lambda: m.resolve_task(task_id, timed.judge, 0), "invalid_state", 409)
    assert m.task_timeline(task_id)[-1].agent_id is None  # the operator is no agent


def test_a_disputed_task_waits_for_its_settlement(timed: Timed) -> None:
    m = timed.market
    task_id = timed.disputed()
    timed.clock.advance(days=100)
    assert m.sweep() == []
    assert m.get_task(task_id).escrow == 20


def test_webhooks_go_to_whom_the_spec_says(timed: Timed) -> None:
    m = timed.market
    every_task_event = ["task.assigned", "task.expired", "task.claim_expired", "task.submitted", "task.approved",
                        "task.disputed", "task.resolved"]
    for agent_id in (timed.poster, timed.worker, timed.judge):
        m.set_webhook(agent_id, f"https://{agent_id[-6:]}.example.com/hook", events=every_task_event)

    def received(agent_id: str) -> list[str]:
        return [d.event for d in reversed(m.webhook_deliveries(agent_id, 100))]

    expiring = timed.post(deadline=at(START + timedelta(minutes=1)))
    lapsing = timed.post(claim_seconds=60)
    m.accept_task(lapsing, timed.worker)
    timed.clock.advance(minutes=1)
    m.sweep()
    disputed = timed.disputed()
    m.resolve_task(disputed, timed.judge, 50)
    assert received(timed.poster) == ["task.assigned", "task.expired", "task.claim_expired", "task.assigned",
                                      "task.submitted", "task.resolved"]
    assert received(timed.worker) == ["task.claim_expired", "task.disputed", "task.resolved"]
    assert received(timed.judge) == ["task.disputed"]
    assert expiring != lapsing


# -- bad input: a 4xx naming the field, nothing changed ---------------------------------------
@pytest.mark.parametrize(("timers", "field"), [
    ({"deadline": "2026-03-13T11:59:59Z"}, "deadline"),
    ({"deadline": "2026-03-13T12:00:59Z"}, "deadline"),
    ({"deadline": "2026-06-11T12:00:01Z"}, "deadline"),
    ({"deadline": "2026-03-14 12:00:00Z"}, "deadline"),
    ({"deadline": "2026-03-14T12:00:00"}, "deadline"),
    ({"deadline": "2026-02-30T12:00:00Z"}, "deadline"),
    ({"deadline": 1773489600}, "deadline"),
    ({"claim_seconds": 59}, "claim_seconds"),
    ({"claim_seconds": 2_592_001}, "claim_seconds"),
    ({"claim_seconds": 60.0}, "claim_seconds"),
    ({"review_hours": -1}, "review_hours"),
    ({"review_hours": 721}, "review_hours"),
    ({"review_hours": True}, "review_hours"),
    ({"evaluator_id": ""}, "evaluator_id"),
])
def test_a_bad_timer_is_refused_naming_its_field(timed: Timed, timers: dict[str, Any], field: str) -> None:
    assert_refused(timed.market, lambda: timed.post(**timers), "validation_error", 400, field)


def test_an_unknown_evaluator_is_not_found_naming_the_field(timed: Timed) -> None:
    # 404, as any unknown agent id in a well-formed request (the OpenAPI document's promise)
    assert_refused(timed.market, lambda: timed.post(evaluator_id="nobody"), "not_found", 404, "evaluator_id")


def test_the_bounds_themselves_are_accepted(timed: Timed) -> None:
    m = timed.market
    for timers in ({"deadline": "2026-03-13T12:01:00Z"}, {"deadline": "2026-06-11T12:00:00Z"},
                   {"deadline": "2026-03-13T14:00:00+01:00"}, {"claim_seconds": 60},
                   {"claim_seconds": 2_592_000}, {"review_hours": 0}, {"review_hours": 720}):
        timed.post(**timers)
    assert m.count_tasks() == 7


def test_the_evaluator_can_be_neither_poster_nor_assignee(timed: Timed) -> None:
    m = timed.market
    assert_refused(m, lambda: timed.post(evaluator_id=timed.poster), "validation_error", 400, "evaluator_id")
    task_id = timed.post(review_hours=1, evaluator_id=timed.judge)
    assert_refused(m, lambda: m.accept_task(task_id, timed.judge), "evaluator_cannot_accept", 403, "evaluator_id")


@pytest.mark.parametrize(("share", "field"), [(50.0, "worker_share"), (True, "worker_share"), (False, "worker_share"),
                                              (-1, "worker_share"), (101, "worker_share"), ("50", "worker_share"),
                                              (None, "worker_share")])
def test_a_bad_worker_share_is_refused(timed: Timed, share: Any, field: str) -> None:
    task_id = timed.disputed()
    assert_refused(timed.market, lambda: timed.market.resolve_task(task_id, timed.judge, share), "validation_error",
                   400, field)


def test_reject_needs_a_reason_and_the_poster(timed: Timed) -> None:
    m = timed.market
    task_id = timed.submitted()
    for reason in ("", None, "x" * 2001, 5):
        assert_refused(m, lambda r=reason: m.reject_task(task_id, timed.poster, r), "validation_error", 400, "reason")
    assert_refused(m, lambda: m.reject_task(task_id, timed.worker, "no"), "not_poster", 403)
    open_task = timed.post()
    assert_refused(m, lambda: m.reject_task(open_task, timed.poster, "no"), "invalid_state", 409)
    assert_refused(m, lambda: m.resolve_task(open_task, OPERATOR, 50), "invalid_state", 409)
    assert_refused(m, lambda: m.approve_task("nope", timed.poster), "not_found", 404)


# -- races: exactly one winner ------------------------------------------------------------------
def _one_winner(outcomes: Counter[str], swept: list[Any]) -> None:
    """One contender changed the task: an agent's call succeeded, or one sweep changed it (a sweep
    itself always returns; it counts as a win only with the task in its list)."""
    assert len(swept) <= outcomes["ok"]
    wins = outcomes["ok"] - len(swept) + sum(len(s) for s in swept)
    assert wins == 1, (outcomes, swept)


def _sweeping(market: Market, swept: list[Any]) -> Callable[[], None]:
    return lambda: swept.append(market.sweep())


def test_threads_sweep_against_complete(timed: Timed) -> None:
    for _ in range(5):
        m = timed.market
        task_id = timed.post(claim_seconds=60)
        m.accept_task(task_id, timed.worker)
        timed.clock.advance(seconds=60)
        swept: list[Any] = []
        outcomes = race([lambda: m.complete_task(task_id, timed.worker, "late"), _sweeping(m, swept),
                         _sweeping(m, swept)])
        _one_winner(outcomes, swept)
        assert m.verify_ledger().ok


def test_threads_approve_against_auto_approve(timed: Timed) -> None:
    m = timed.market
    for _ in range(5):
        task_id = timed.submitted()
        timed.clock.advance(hours=1)
        before = m.balance(timed.worker)
        swept: list[Any] = []
        _one_winner(race([lambda: m.approve_task(task_id, timed.poster), _sweeping(m, swept)]), swept)
        assert m.balance(timed.worker) == before + 18  # paid once


def test_threads_two_resolves(timed: Timed) -> None:
    m = timed.market
    task_id = timed.disputed()
    outcomes = race([lambda: m.resolve_task(task_id, timed.judge, 100),
                     lambda: m.resolve_task(task_id, OPERATOR, 0)])
    assert outcomes == Counter({"ok": 1, "invalid_state": 1})
    assert m.get_task(task_id).status in ("completed", "refunded")


def test_threads_release_against_claim_expiry(timed: Timed) -> None:
    m = timed.market
    lapsed = 0
    for _ in range(5):
        task_id = timed.post(claim_seconds=60)
        m.accept_task(task_id, timed.worker)
        timed.clock.advance(seconds=60)
        swept: list[Any] = []
        outcomes = race([lambda: m.release_task(task_id, timed.worker), _sweeping(m, swept)])
        _one_winner(outcomes, swept)
        lapsed += sum(len(s) for s in swept)
        assert m.get_task(task_id).status == "open"
    assert m.get_agent(timed.worker).missed_claims == lapsed  # counted only when the sweep won


# -- races between processes --------------------------------------------------------------------
def run_processes(path: Path, go: Path, now: datetime, contenders: list[list[str]]) -> list[str]:
    """Start one process per contender, release them at once, return each one's last line."""
    go.unlink(missing_ok=True)
    processes = [subprocess.Popen([sys.executable, str(WORKER), str(path), at(now), str(go), *args],
                                  stdout=subprocess.PIPE, text=True) for args in contenders]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        go.touch()
        return [process.communicate(timeout=60)[0].split("\n")[-2] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _process_wins(lines: list[str]) -> int:
    return sum(1 for line in lines if line == "ok" or line == "ok 1")


@pytest.mark.slow
def test_processes_race_each_pair_and_one_wins(timed: Timed, tmp_path: Path) -> None:
    m, path, go = timed.market, as_db(timed.market.path), tmp_path / "go"
    task_id = timed.post(claim_seconds=60)
    m.accept_task(task_id, timed.worker)
    lines = run_processes(path, go, START + timedelta(seconds=60),
                          [["complete", task_id, timed.worker], ["sweep", "-"], ["sweep", "-"]])
    assert _process_wins(lines) == 1, lines

    submitted = timed.submitted()
    lines = run_processes(path, go, START + timedelta(hours=2), [["approve", submitted, timed.poster], ["sweep", "-"]])
    assert _process_wins(lines) == 1, lines

    disputed = timed.disputed()
    lines = run_processes(path, go, START, [["resolve", disputed, timed.judge, "70"],
                                            ["resolve", disputed, OPERATOR, "10"]])
    assert sorted(lines) == ["invalid_state", "ok"], lines

    released = timed.post(claim_seconds=60)
    m.accept_task(released, timed.worker)
    lines = run_processes(path, go, START + timedelta(hours=3), [["release", released, timed.worker], ["sweep", "-"]])
    assert _process_wins(lines) == 1, lines
    assert m.verify_ledger().ok, m.verify_ledger().failed()


# -- kill -9 in the middle of a sweep --------------------------------------------------------------
@pytest.mark.slow
def test_a_sweep_killed_mid_way_leaves_a_sound_market_and_the_next_finishes(timed: Timed, tmp_path: Path) -> None:
    m, path, go = timed.market, as_db(timed.market.path), tmp_path / "go"
    m.grant(timed.poster, 10_000)
    tasks = [timed.post(1, deadline=at(START + timedelta(minutes=1))) for _ in range(1500)]
    go.touch()
    process = subprocess.Popen([sys.executable, str(WORKER), str(path), at(START + timedelta(hours=1)), str(go),
                                "sweep", "-"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        assert process.stdout.readline().strip() == "start"
        while m.stats().tasks.get("expired", 0) < 100:  # let it get some way in, then kill it
            pass
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    expired_by_the_killed = m.stats().tasks.get("expired", 0)
    assert 100 <= expired_by_the_killed < len(tasks), "the sweep finished before it was killed"
    assert m.verify_ledger().ok, m.verify_ledger().failed()
    timed.clock.advance(hours=1)
    assert len(m.sweep()) == len(tasks) - expired_by_the_killed
    assert m.stats().tasks.get("expired") == len(tasks)
    assert m.balance(timed.poster) == 1000 + 10_000
