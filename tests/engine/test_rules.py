"""The market's rules of SPEC §2 (credits) and §3 (task states), one test each."""

from __future__ import annotations

import pytest

from engine import Market, fees
from engine.states import TaskStatus

from .conftest import Cast, assert_refused, register


def post(cast: Cast, budget: int = 25, **extra: object) -> str:
    return cast.market.post_task(cast.poster, title="Summarize", budget=budget, **extra).id


def test_fee_rounding_25_pays_22_and_keeps_3(cast: Cast) -> None:
    market = cast.market
    task_id = post(cast, 25)
    assert market.balance(cast.poster) == 75
    market.accept_task(task_id, cast.worker)
    done = market.complete_task(task_id, cast.worker, "the summary")
    assert (done.status, done.escrow, done.result) == ("completed", 0, "the summary")
    assert market.balance(cast.worker) == 100 + 22
    assert market.stats().fees_collected == 3
    assert market.verify_ledger().ok


@pytest.mark.parametrize("fee_percent", [0, 7, 10, 33, 100])
def test_fee_split_never_loses_a_credit(fee_percent: int) -> None:
    for budget in [*range(1, 301), 999_999, 1_000_000]:
        pay, fee = fees.split(budget, fee_percent)
        assert pay + fee == budget
        assert pay == budget * (100 - fee_percent) // 100
        assert pay >= 0 and fee >= 0


def test_fee_percent_is_a_market_setting(cast: Cast) -> None:
    cast.market.configure(fee_percent=20)
    task_id = post(cast, 25)
    cast.market.accept_task(task_id, cast.worker)
    cast.market.complete_task(task_id, cast.worker, "done")
    assert cast.market.balance(cast.worker) == 120
    assert cast.market.stats().fees_collected == 5


def test_registration_grant_is_a_market_setting(market: Market) -> None:
    market.configure(registration_grant=7)
    assert market.balance(register(market, "Frugal")) == 7


def test_posting_escrows_the_budget_at_once(cast: Cast) -> None:
    task = cast.market.post_task(cast.poster, title="Summarize", budget=25)
    assert (task.status, task.escrow) == ("open", 25)
    assert cast.market.balance(cast.poster) == 75
    assert cast.market.wallet(cast.poster).escrowed == 25


def test_overdraw_is_refused_and_changes_nothing(cast: Cast) -> None:
    error = assert_refused(cast.market, lambda: post(cast, 101), "insufficient_credits", 402)
    assert error.details == {"balance": 100, "needed": 101}


def test_posting_exactly_the_balance_leaves_zero(cast: Cast) -> None:
    post(cast, 100)
    assert cast.market.balance(cast.poster) == 0
    assert_refused(cast.market, lambda: post(cast, 1), "insufficient_credits", 402)


def test_an_agent_cannot_accept_its_own_task(cast: Cast) -> None:
    task_id = post(cast)
    assert_refused(cast.market, lambda: cast.market.accept_task(task_id, cast.poster), "own_task", 403)


def test_the_acceptor_needs_every_required_capability(cast: Cast) -> None:
    task_id = post(cast, required_capabilities=["research", "translation"])
    error = assert_refused(cast.market, lambda: cast.market.accept_task(task_id, cast.worker),
                           "missing_capabilities", 403)
    assert error.details["missing"] == ["translation"]
    covered = post(cast, required_capabilities=["research", "summarization"])
    assert cast.market.accept_task(covered, cast.worker).status == "assigned"


def test_only_open_tasks_can_be_accepted(cast: Cast) -> None:
    task_id = post(cast)
    cast.market.accept_task(task_id, cast.worker)
    other = register(cast.market, "Other")
    assert_refused(cast.market, lambda: cast.market.accept_task(task_id, other), "invalid_state", 409)


def test_only_the_assignee_completes(cast: Cast) -> None:
    task_id = post(cast)
    cast.market.accept_task(task_id, cast.worker)
    other = register(cast.market, "Other")
    for who in (other, cast.poster):
        assert_refused(cast.market, lambda who=who: cast.market.complete_task(task_id, who, "x"), "not_assignee", 403)


@pytest.mark.parametrize("result", ["", None, 5])
def test_completing_needs_a_non_empty_result(cast: Cast, result: object) -> None:
    task_id = post(cast)
    cast.market.accept_task(task_id, cast.worker)
    assert_refused(cast.market, lambda: cast.market.complete_task(task_id, cast.worker, result),
                   "validation_error", 400, "result")


def test_an_open_task_cannot_be_completed(cast: Cast) -> None:
    task_id = post(cast)
    assert_refused(cast.market, lambda: cast.market.complete_task(task_id, cast.worker, "x"), "invalid_state", 409)


def test_release_reopens_with_escrow_held_for_another_agent(cast: Cast) -> None:
    market = cast.market
    task_id = post(cast, 25)
    market.accept_task(task_id, cast.worker)
    released = market.release_task(task_id, cast.worker)
    assert (released.status, released.assigned_to, released.escrow) == ("open", None, 25)
    assert market.get_task(task_id).escrow == 25
    assert market.balance(cast.poster) == 75 and market.balance(cast.worker) == 100
    other = register(market, "Other")
    assert market.accept_task(task_id, other).assigned_to == other
    market.complete_task(task_id, other, "done")
    assert market.balance(other) == 122
    assert market.verify_ledger().ok


def test_only_the_assignee_releases_and_only_while_assigned(cast: Cast) -> None:
    task_id = post(cast)
    assert_refused(cast.market, lambda: cast.market.release_task(task_id, cast.worker), "invalid_state", 409)
    cast.market.accept_task(task_id, cast.worker)
    assert_refused(cast.market, lambda: cast.market.release_task(task_id, cast.poster), "not_assignee", 403)


def test_cancel_refunds_the_whole_escrow(cast: Cast) -> None:
    task_id = post(cast, 40)
    cancelled = cast.market.cancel_task(task_id, cast.poster)
    assert (cancelled.status, cancelled.escrow) == ("cancelled", 0)
    assert cast.market.balance(cast.poster) == 100
    assert cast.market.verify_ledger().ok
    assert_refused(cast.market, lambda: cast.market.cancel_task(task_id, cast.poster), "invalid_state", 409)


def test_only_the_poster_cancels_and_only_while_open(cast: Cast) -> None:
    task_id = post(cast)
    assert_refused(cast.market, lambda: cast.market.cancel_task(task_id, cast.worker), "not_poster", 403)
    cast.market.accept_task(task_id, cast.worker)
    assert_refused(cast.market, lambda: cast.market.cancel_task(task_id, cast.poster), "invalid_state", 409)


def completed(cast: Cast) -> str:
    task_id = post(cast, 10)
    cast.market.accept_task(task_id, cast.worker)
    cast.market.complete_task(task_id, cast.worker, "done")
    return task_id


def test_a_completed_task_is_rated_once_by_its_poster(cast: Cast) -> None:
    market = cast.market
    task_id = completed(cast)
    assert_refused(market, lambda: market.rate_task(task_id, cast.worker, 5), "not_poster", 403)
    assert market.rate_task(task_id, cast.poster, 4).rating == 4
    assert_refused(market, lambda: market.rate_task(task_id, cast.poster, 5), "already_rated", 409)
    assert market.get_agent(cast.worker).reputation_score == 4.0


def test_only_completed_tasks_are_rated(cast: Cast) -> None:
    task_id = post(cast)
    assert_refused(cast.market, lambda: cast.market.rate_task(task_id, cast.poster, 5), "invalid_state", 409)


@pytest.mark.parametrize(
    ("ratings", "score"),
    [((), None), ((5,), 5.0), ((4, 5), 4.5), ((4, 4, 5), 4.3), ((1, 2), 1.5), ((3, 3, 4, 5), 3.8),
     ((1, 1, 2), 1.3), ((5, 5, 4, 4, 4, 4, 4, 4), 4.3)],
)
def test_reputation_is_the_mean_rounded_half_up_to_one_decimal(
    cast: Cast, ratings: tuple[int, ...], score: float | None
) -> None:
    for rating in ratings:
        cast.market.rate_task(completed(cast), cast.poster, rating)
    agent = cast.market.get_agent(cast.worker)
    assert (agent.reputation_score, agent.rating_count, agent.total_tasks) == (score, len(ratings), len(ratings))


@pytest.mark.parametrize(("rating_sum", "count", "score"), [(17, 4, 4.3), (13, 4, 3.3), (9, 4, 2.3), (7, 2, 3.5)])
def test_reputation_rounds_exact_halves_up(rating_sum: int, count: int, score: float) -> None:
    assert fees.reputation(rating_sum, count) == score


def test_unknown_task_and_agent_are_not_found(cast: Cast) -> None:
    market = cast.market
    assert_refused(market, lambda: market.accept_task("nope", cast.worker), "not_found", 404)
    assert_refused(market, lambda: market.get_task("nope"), "not_found", 404)
    assert_refused(market, lambda: market.balance("nope"), "not_found", 404)
    assert_refused(market, lambda: market.post_task("nope", title="t", budget=1), "not_found", 404)


def test_task_states_are_the_spec_s(cast: Cast) -> None:
    assert {s.value for s in TaskStatus} == {"open", "assigned", "completed", "cancelled", "failed",
                                                "expired", "submitted", "disputed", "refunded"}
