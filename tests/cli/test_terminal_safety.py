"""What the CLI prints cannot drive the terminal, even from data stored before today's
rules (issue 12, finding 7)."""

from __future__ import annotations

import json

from .conftest import Cli

TRICK = "Evil\x9b2J\u202eeman\x1b]0;owned\x07"


def _store_raw_description(cli: Cli, agent_id: str) -> None:
    """Write what older versions let through, past today's validation."""
    market = cli.market()
    try:
        with market.context.store.write() as tx:
            tx.agents.update(agent_id, {"description": TRICK})
    finally:
        market.close()


def test_tables_and_records_show_control_characters_as_escapes(cli: Cli) -> None:
    agent_id, _ = cli.register("Old")
    _store_raw_description(cli, agent_id)
    for args in (("agents", "show", agent_id), ("agents", "list")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert not any(c in result.output for c in "\x9b\u202e\x1b\x07"), repr(result.output)
    assert "\\u009b" in cli("agents", "show", agent_id).output


def test_json_output_escapes_them_and_stays_the_same_json(cli: Cli) -> None:
    agent_id, _ = cli.register("Old")
    _store_raw_description(cli, agent_id)
    result = cli("agents", "show", agent_id, "--json")
    assert not any(c in result.output for c in "\x9b\u202e\x1b\x07")
    assert json.loads(result.output)["description"] == TRICK
