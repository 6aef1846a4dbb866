"""Credit arithmetic: the platform fee split and reputation rounding, defined once."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

DEFAULT_FEE_PERCENT = 10
DEFAULT_REGISTRATION_GRANT = 100


def split(budget: int, fee_percent: int = DEFAULT_FEE_PERCENT) -> tuple[int, int]:
    """Split a completed task's budget into (worker's pay, platform fee).

    The worker gets ``floor(budget * (100 - fee_percent) / 100)`` and the platform the
    rest, so nothing is lost to rounding: 25 at 10 % -> (22, 3).
    """
    worker = budget * (100 - fee_percent) // 100
    return worker, budget - worker


def dispute_share(budget: int, worker_share: int) -> int:
    """The part of a disputed budget that goes to the worker's side (SPEC §10):
    ``floor(budget * worker_share / 100)``; the fee is then taken from it with :func:`split`."""
    return budget * worker_share // 100


def reputation(rating_sum: int, rating_count: int) -> float | None:
    """Mean rating to one decimal, half up (4.25 -> 4.3); None before the first rating."""
    if rating_count == 0:
        return None
    mean = Decimal(rating_sum) / Decimal(rating_count)
    return float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
