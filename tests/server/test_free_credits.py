"""SPEC §11 over a real server: free credits cannot be farmed by registering many agents.

One grant per owner email, a per-address registration limit (shared through the market
file by every server on it), trusted proxies naming the client, invite-only markets, and
registration that honours Idempotency-Key.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import Market
from tests.support.server import RunningServer, running_server, server_process
from tests.support.stores import dump

REGISTER = "/api/agents/register"


def _body(name: str, email: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"name": name, "capabilities": ["coding"], "owner_email": email or f"{name.lower()}@example.com",
            **fields}


def _mint(http: httpx.Client, collector_key: str, names_and_emails: list[tuple[str, str]]) -> list[httpx.Response]:
    """The minting script of issue 11: each throwaway agent posts a task worth its whole grant,
    and the collector accepts and completes it. Returns the registration responses."""
    answers = []
    for name, email in names_and_emails:
        answer = http.post(REGISTER, json=_body(name, email))
        answers.append(answer)
        if answer.status_code != 201:
            continue
        key, balance = answer.json()["data"]["api_key"], answer.json()["balance"]
        if balance == 0:
            continue  # nothing to funnel
        task = http.post("/api/tasks", json={"title": "funnel", "budget": balance},
                         headers={"X-API-Key": key}).json()["data"]
        assert http.post(f"/api/tasks/{task['id']}/accept", headers={"X-API-Key": collector_key}).status_code == 200
        assert http.post(f"/api/tasks/{task['id']}/complete", json={"result": "done"},
                         headers={"X-API-Key": collector_key}).status_code == 200
    return answers


@pytest.mark.parametrize("same_email", [True, False], ids=["one-email", "twenty-emails"])
def test_the_minting_script_gets_one_grant_per_email_and_is_stopped_by_the_address_limit(
        market_path: Path, same_email: bool) -> None:
    db = market_path
    with Market(db) as market:  # the collector registers elsewhere (not from the script's address)
        collector = market.register_agent(name="Collector", capabilities=["coding"], owner_email="c@example.com")
    with running_server(db, registrations_per_hour=10) as server, server.client() as http:
        script = [(f"Throwaway{n}", "farm@example.com" if same_email else f"farm{n}@example.com")
                  for n in range(20)]
        answers = _mint(http, collector.api_key, script)
        made = [a for a in answers if a.status_code == 201]
        refused = [a for a in answers if a.status_code != 201]
        assert len(made) == 10
        assert {a.status_code for a in refused} == {429}
        assert all(a.json()["error"]["code"] == "registration_limited" for a in refused)
        assert all(1 <= int(a.headers["Retry-After"]) <= 3600 for a in refused)
        grants = [a.json()["balance"] for a in made]
        if same_email:
            assert grants == [100] + [0] * 9
        else:
            assert grants == [100] * 10
        earned = server.market.wallet(collector.agent.id).earned
        assert earned == 90 * grants.count(100)
        assert server.market.verify_ledger().ok


def test_one_email_gets_one_grant_in_any_letter_case(served: RunningServer) -> None:
    with served.client() as http:
        first = http.post(REGISTER, json=_body("First", "Owner@Example.com"))
        second = http.post(REGISTER, json=_body("Second", "  owner@EXAMPLE.COM "))
    assert (first.json()["balance"], second.json()["balance"]) == (100, 0)
    assert served.market.stats().credits_issued == 100


def test_concurrent_registrations_of_one_email_get_one_grant(served: RunningServer) -> None:
    answers: list[httpx.Response] = []
    start = threading.Barrier(8)

    def register(n: int) -> None:
        with served.client() as http:
            start.wait()
            answers.append(http.post(REGISTER, json=_body(f"Racer{n}", "race@example.com")))

    threads = [threading.Thread(target=register, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.json()["balance"] for a in answers) == [0] * 7 + [100]
    assert served.market.verify_ledger().ok


def test_a_grant_of_zero_registers_agents_with_nothing(market_path: Path) -> None:
    with running_server(market_path, settings={"registration_grant": 0}) as server, server.client() as http:
        answer = http.post(REGISTER, json=_body("Pauper"))
        assert (answer.status_code, answer.json()["balance"]) == (201, 0)
        assert http.get("/api/agents/register").json()["data"] == {"requires_invite": False, "registration_grant": 0}
        assert server.market.verify_ledger().ok


def test_two_server_processes_on_one_file_share_the_address_limit(market_path: Path) -> None:
    db = market_path
    Market(db).close()
    with (server_process(db, registrations_per_hour=3) as one, server_process(db, registrations_per_hour=3) as two,
          httpx.Client(timeout=30) as http):
        statuses = [http.post(f"{server.url}{REGISTER}", json=_body(f"Agent{n}")).status_code
                    for n, server in enumerate([one, two, one, two, one])]
    assert statuses == [201, 201, 201, 429, 429]


# -- X-Forwarded-For -------------------------------------------------------------------
def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(market_path: Path) -> None:
    with running_server(market_path, registrations_per_hour=2) as server, server.client() as http:
        statuses = [http.post(REGISTER, json=_body(f"Spoof{n}"), headers={"X-Forwarded-For": f"10.9.0.{n}"})
                    .status_code for n in range(3)]
    assert statuses == [201, 201, 429]


def test_a_trusted_proxy_names_the_client_by_the_right_most_untrusted_address(market_path: Path) -> None:
    with (running_server(market_path, registrations_per_hour=1, trusted_proxies=("127.0.0.0/8", "10.0.0.0/8"))
          as server, server.client() as http):
        def register(name: str, forwarded: str) -> int:
            return http.post(REGISTER, json=_body(name), headers={"X-Forwarded-For": forwarded}).status_code

        assert register("A1", "203.0.113.7") == 201
        assert register("A2", "203.0.113.7") == 429  # the same client through the proxy
        assert register("B1", "198.51.100.1, 10.1.1.1") == 201  # 10.1.1.1 is a trusted hop
        # A forged left part does not make a new client: the proxy appended the real one.
        assert register("B2", "203.0.113.99, 198.51.100.1") == 429
        # IPv6 clients count by /64.
        assert register("C1", "2001:db8:1:2::1") == 201
        assert register("C2", "2001:db8:1:2::ffff") == 429
        assert register("D1", "not-an-address") == 201
        assert register("D2", "") == 201  # no header: the peer (the proxy itself, 127.0.0.1) is the client...
        assert register("D3", "127.0.0.1") == 429  # ...and so is the left-most of a list of trusted hops
        # Hostile headers name some client, never a 500.
        assert register("E1", "x" * 5000) == 201
        assert register("E2", ",".join(["10.0.0.1"] * 2000) + ", '\"; drop table --") == 201
        hostile = http.post(REGISTER, json=_body("E3"), headers={"X-Forwarded-For": "é\u202e".encode()})
        assert hostile.status_code == 201


def test_a_bad_trusted_proxy_is_one_line_naming_the_option(market_path: Path) -> None:
    from click.testing import CliRunner

    from agentmarket_tui.cli import main

    result = CliRunner().invoke(main, ["serve", "--db", str(market_path), "--port", "0",
                                       "--trusted-proxy", "10.0.0.0/33"])
    assert result.exit_code == 1
    assert "trusted_proxies" in result.output and "Traceback" not in result.output


# -- idempotent registration -------------------------------------------------------------
def test_a_retried_registration_with_its_idempotency_key_gets_the_first_answer(served: RunningServer) -> None:
    key = str(uuid.uuid4())
    with served.client() as http:
        first = http.post(REGISTER, json=_body("Retry"), headers={"Idempotency-Key": key})
        again = http.post(REGISTER, json=_body("Retry"), headers={"Idempotency-Key": key})
        other = http.post(REGISTER, json=_body("Other"), headers={"Idempotency-Key": key})
        fresh = http.post(REGISTER, json=_body("Retry"), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the same api_key, shown again to the holder of the key
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_conflict")
    assert (fresh.status_code, fresh.json()["error"]["code"]) == (409, "name_taken")
    assert served.market.authenticate(first.json()["data"]["api_key"]).name == "Retry"
    assert served.market.count_agents() == 1
    assert served.market.stats().credits_issued == 100


def test_the_stored_registration_answer_is_unreadable_without_the_key(served: RunningServer) -> None:
    key = "retry-" + uuid.uuid4().hex
    with served.client() as http:
        api_key = http.post(REGISTER, json=_body("Sealed"), headers={"Idempotency-Key": key}).json()["data"]["api_key"]
    stored = dump(served.db)
    assert api_key not in stored and key not in stored


def test_a_short_idempotency_key_on_registration_is_refused_naming_the_header(served: RunningServer) -> None:
    with served.client() as http:
        answer = http.post(REGISTER, json=_body("Short"), headers={"Idempotency-Key": "1"})
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "Idempotency-Key"
    assert served.market.count_agents() == 0


def test_a_replayed_registration_does_not_count_against_the_address_limit(market_path: Path) -> None:
    key = str(uuid.uuid4())
    with running_server(market_path, registrations_per_hour=1) as server, server.client() as http:
        statuses = [http.post(REGISTER, json=_body("Once"), headers={"Idempotency-Key": key}).status_code
                    for _ in range(3)]
    assert statuses == [201, 201, 201]


# -- invite-only markets ---------------------------------------------------------------------
def test_an_invite_only_market_registers_only_with_an_unused_code(market_path: Path) -> None:
    db = market_path
    with running_server(db, settings={"registration_requires_invite": True}) as server, server.client() as http:
        (code,) = server.market.create_invites(1)
        assert http.get(REGISTER).json()["data"] == {"requires_invite": True, "registration_grant": 100}
        without = http.post(REGISTER, json=_body("NoCode"))
        wrong = http.post(REGISTER, json=_body("Wrong", invite_code="inv_nope"))
        good = http.post(REGISTER, json=_body("Invited", invite_code=code))
        reused = http.post(REGISTER, json=_body("Again", invite_code=code))
    assert (without.status_code, without.json()["error"]["code"], without.json()["error"]["field"]) == (
        403, "invite_required", "invite_code")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "invite_invalid")
    assert (good.status_code, good.json()["balance"]) == (201, 100)
    assert (reused.status_code, reused.json()["error"]["code"]) == (403, "invite_invalid")
    with Market(db) as market:
        (used,) = market.invites()
        assert used.used_by == good.json()["data"]["id"]
        assert market.count_agents() == 1


def test_two_registrations_racing_for_one_code_one_wins(market_path: Path) -> None:
    with running_server(market_path, settings={"registration_requires_invite": True}) as server:
        (code,) = server.market.create_invites(1)
        statuses: list[int] = []
        start = threading.Barrier(6)

        def register(n: int) -> None:
            with server.client() as http:
                start.wait()
                statuses.append(http.post(REGISTER, json=_body(f"Racer{n}", invite_code=code)).status_code)

        threads = [threading.Thread(target=register, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [201] + [403] * 5


@pytest.mark.parametrize(("invite_code", "status"), [
    (5, 400), ("", 400), ("a\x00b", 400), ("x" * 101, 400), (["inv_x"], 400), (True, 400),
])
def test_hostile_invite_codes_are_refused_naming_the_field(served: RunningServer, invite_code: Any,
                                                           status: int) -> None:
    with served.client() as http:
        answer = http.post(REGISTER, json=_body("Hostile", invite_code=invite_code))
    assert answer.status_code == status
    assert answer.json()["error"] == {**answer.json()["error"], "code": "validation_error", "field": "invite_code"}
    assert served.market.count_agents() == 0


def test_a_registration_refused_by_the_limit_leaves_its_idempotency_key_free(market_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 5, 1, 12, 0, tzinfo=UTC)]
    key = str(uuid.uuid4())
    with (Market(market_path, clock=lambda: now[0]) as market,
          running_server(market_path, market=market, registrations_per_hour=1) as server,
          server.client() as http):
        assert http.post(REGISTER, json=_body("First")).status_code == 201
        assert http.post(REGISTER, json=_body("Later"), headers={"Idempotency-Key": key}).status_code == 429
        now[0] += timedelta(hours=1)
        retried = http.post(REGISTER, json=_body("Later"), headers={"Idempotency-Key": key})
        assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
