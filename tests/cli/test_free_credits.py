"""The operator's commands for free credits (SPEC §11): invites and grants, with --json."""

from __future__ import annotations

import uuid

from click.testing import CliRunner

from agentmarket_tui.cli import main
from tests.support.server import server_process

from .conftest import Cli


def _register(cli: Cli, name: str, *extra: str) -> tuple[int, str]:
    result = cli("register", "--name", name, "--capability", "coding", "--owner-email", f"{name}@example.com",
                 *extra)
    return result.exit_code, result.output


def test_invites_create_list_and_required(cli: Cli) -> None:
    assert cli.json("invites", "required") == {"requires_invite": False, "registration_grant": 100}
    assert cli.json("invites", "required", "on")["requires_invite"] is True
    codes = cli.json("invites", "create", "2")
    assert len(codes) == len(set(codes)) == 2 and all(code.startswith("inv_") for code in codes)

    code, output = _register(cli, "uninvited")
    assert code == 1 and "[invite_required]" in output and len(output.strip().splitlines()) == 1
    code, output = _register(cli, "guest", "--invite-code", codes[0])
    assert code == 0, output
    code, output = _register(cli, "gatecrasher", "--invite-code", codes[0])
    assert code == 1 and "[invite_invalid]" in output

    listed = cli.json("invites", "list")
    assert [entry["used"] for entry in listed].count(True) == 1
    assert not any(code in str(listed) for code in codes)  # only hashes are kept
    table = cli("invites", "list").output
    assert "USED BY" in table
    assert cli.json("invites", "required", "off")["requires_invite"] is False
    assert _register(cli, "walk-in")[0] == 0


def test_invites_create_refuses_bad_counts_in_one_line(cli: Cli) -> None:
    for count in ("0", "1001"):
        result = cli("invites", "create", count)
        assert result.exit_code == 1
        assert "(count) [validation_error]" in result.output and "Traceback" not in result.output


def test_grant_records_its_reason_in_the_ledger(cli: Cli) -> None:
    agent_id, key = cli.register("Topped")
    granted = cli.json("grant", agent_id, "40", "--reason", "refund for outage #12")
    assert granted == {"agent_id": agent_id, "credits": 40, "reason": "refund for outage #12", "balance": 140}
    history = cli.json("wallet", "--transactions", key=key)
    assert (history[0]["kind"], history[0]["amount"], history[0]["memo"]) == ("grant", 40, "refund for outage #12")
    assert history[1]["memo"] is None  # the registration grant
    assert "refund for outage #12" in cli("wallet", "--transactions", key=key).output
    assert cli("ledger", "verify").exit_code == 0


def test_grant_refusals_are_one_line(cli: Cli) -> None:
    agent_id, _ = cli.register("Refused")
    for args, expected in (([agent_id, "0", "--reason", "x"], "(credits) [validation_error]"),
                           ([agent_id, "5", "--reason", " "], "(reason) [validation_error]"),
                           ([agent_id, "5", "--reason", "a\x1bb"], "(reason) [validation_error]"),
                           (["nobody", "5", "--reason", "x"], "[not_found]")):
        result = cli("grant", *args)
        assert result.exit_code == 1 and expected in result.output, result.output
    missing = cli("grant", agent_id, "5")
    assert missing.exit_code == 2 and "--reason" in missing.output
    with cli.market() as market:
        assert market.balance(agent_id) == 100


def test_register_over_a_server_with_an_invite_and_an_idempotency_key(cli: Cli) -> None:
    cli("invites", "required", "on")
    (code,) = cli.json("invites", "create", "1")
    key = str(uuid.uuid4())
    with server_process(cli.db) as server:
        def register(name: str) -> object:
            return CliRunner().invoke(main, ["register", "--url", server.url, "--name", name, "--capability", "x",
                                             "--owner-email", "r@example.com", "--invite-code", code,
                                             "--idempotency-key", key, "--json"])

        first, retry, other = register("Remote"), register("Remote"), register("Another")
    assert first.exit_code == retry.exit_code == 0, first.output
    assert first.stdout == retry.stdout  # the same agent and API key
    assert other.exit_code == 1 and "[idempotency_conflict]" in other.output
