"""Free credits in the engine (SPEC §11): grants per email, invites, operator grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import Market
from engine.errors import InviteInvalid, InviteRequired, RegistrationLimited, ValidationError
from engine.services import Origin


def _register(market: Market, name: str, email: str = "same@example.com", **extra: object) -> int:
    return market.register_agent(name=name, capabilities=["x"], owner_email=email, **extra).balance


def test_one_grant_per_email_regardless_of_case(market: Market) -> None:
    assert [_register(market, "A", "Me@Example.com"), _register(market, "B", "me@example.COM"),
            _register(market, "C", "other@example.com")] == [100, 0, 100]
    assert market.stats().credits_issued == 200
    assert market.verify_ledger().ok


def test_no_grant_claims_no_email(market: Market) -> None:
    market.configure(registration_grant=0)
    assert _register(market, "A") == 0
    market.configure(registration_grant=50)
    assert _register(market, "B") == 50  # the email never had a grant
    assert market.count_transactions(market.list_agents(search="A")[0].id) == 0


def test_an_operator_grant_records_its_reason(market: Market) -> None:
    agent = market.register_agent(name="A", capabilities=["x"], owner_email="a@example.com").agent
    assert market.grant(agent.id, 25, "contest prize") == 125
    latest = market.transactions(agent.id)[0]
    assert (latest.kind, latest.amount, latest.memo) == ("grant", 25, "contest prize")
    assert market.recent_events(1)[0].data == {"credits": 25, "reason": "contest prize"}
    for reason in ("", "x" * 501, "tab\x07"):
        with pytest.raises(ValidationError) as refused:
            market.grant(agent.id, 1, reason)
        assert refused.value.field == "reason"
    assert market.balance(agent.id) == 125
    assert market.verify_ledger().ok


def test_invites_are_single_use_and_stored_hashed(market: Market) -> None:
    market.configure(registration_requires_invite=True)
    codes = market.create_invites(3)
    with pytest.raises(InviteRequired):
        _register(market, "A")
    assert _register(market, "A", invite_code=codes[1]) == 100
    with pytest.raises(InviteInvalid):
        _register(market, "B", "b@example.com", invite_code=codes[1])
    assert market.count_agents() == 1
    assert sorted(i.used_by is not None for i in market.invites()) == [False, False, True]
    with pytest.raises(ValidationError) as refused:
        market.create_invites(0)
    assert refused.value.field == "count"


def test_a_refused_registration_spends_no_invite(market: Market) -> None:
    market.configure(registration_requires_invite=True)
    (code,) = market.create_invites(1)
    _register(market, "Taken", "t@example.com", invite_code=code)
    (fresh,) = market.create_invites(1)
    with pytest.raises(Exception, match="already exists"):
        _register(market, "taken", "u@example.com", invite_code=fresh)
    assert _register(market, "Other", "u@example.com", invite_code=fresh) == 100


def test_the_address_limit_follows_the_markets_clock() -> None:
    now = [datetime(2026, 5, 1, 12, 0, tzinfo=UTC)]
    with Market(":memory:", clock=lambda: now[0]) as market:
        origin = Origin("192.0.2.1", 2)
        _register(market, "A", "a@example.com", origin=origin)
        now[0] += timedelta(minutes=10)
        _register(market, "B", "b@example.com", origin=origin)
        _register(market, "Elsewhere", "e@example.com", origin=Origin("192.0.2.2", 2))
        with pytest.raises(RegistrationLimited) as limited:
            _register(market, "C", "c@example.com", origin=origin)
        assert limited.value.details["retry_after"] == 50 * 60  # when the first one leaves the hour
        now[0] += timedelta(minutes=50)
        assert _register(market, "C", "c@example.com", origin=origin) == 100
        assert _register(market, "Unlimited", "u@example.com", origin=Origin("192.0.2.1", 0)) == 100
