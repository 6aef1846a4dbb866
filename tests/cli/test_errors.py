"""Bad input and refusals: one line on stderr, exit 1 (usage errors 2), never a traceback."""

from __future__ import annotations

import pytest

from .conftest import Cli, one_error_line


@pytest.mark.parametrize("budget", ["1.5", "ten", "1e3", ""])
def test_a_budget_that_is_not_a_whole_number_is_a_usage_error(cli: Cli, budget: str) -> None:
    _, key = cli.register("Poster")
    result = cli("tasks", "post", "--title", "T", "--budget", budget, key=key)
    assert result.exit_code == 2
    assert "--budget" in result.stderr


def test_market_refusals_exit_1_with_one_line(cli: Cli) -> None:
    _, key = cli.register("Poster")
    cases = {
        ("tasks", "post", "--title", "T", "--budget", "500"): "[insufficient_credits]",
        ("tasks", "post", "--title", "T", "--budget", "0"): "(budget) [validation_error]",
        ("tasks", "show", "no-such-task"): "[not_found]",
        ("tasks", "rate", "no-such-task", "--rating", "9"): "(rating) [validation_error]",
        ("webhook", "set", "http://plain.example.com"): "[validation_error]",
    }
    for args, ending in cases.items():
        result = cli(*args, key=key)
        assert result.exit_code == 1, args
        assert one_error_line(result).endswith(ending), args


def test_acting_without_a_key_says_how_to_give_one(cli: Cli) -> None:
    result = cli("wallet")
    assert result.exit_code == 1
    assert "--api-key" in one_error_line(result)


def test_a_wrong_key_is_refused(cli: Cli) -> None:
    cli.register("Someone")
    result = cli("wallet", key="f" * 64)
    assert result.exit_code == 1
    assert one_error_line(result).endswith("[invalid_api_key]")


def test_own_task_and_duplicate_name(cli: Cli) -> None:
    _, key = cli.register("Poster")
    task = cli.json("tasks", "post", "--title", "T", "--budget", "5", key=key)
    assert one_error_line(cli("tasks", "accept", task["id"], key=key)).endswith("[own_task]")
    duplicate = cli("register", "--name", "POSTER", "--capability", "x", "--owner-email", "p@example.com")
    assert duplicate.exit_code == 1
    assert one_error_line(duplicate).endswith("[name_taken]")


def test_db_and_url_together_is_a_usage_error(cli: Cli) -> None:
    result = cli("tasks", "list", target=["--db", str(cli.db), "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2


def test_an_unreachable_server_is_one_line(cli: Cli, unused_port: int) -> None:
    result = cli("tasks", "list", target=["--url", f"http://127.0.0.1:{unused_port}"])
    assert result.exit_code == 1
    assert "cannot reach the market" in one_error_line(result)


def test_missing_required_options_are_usage_errors(cli: Cli) -> None:
    assert cli("register", "--name", "X").exit_code == 2
    assert cli("tasks", "complete", "some-id").exit_code == 2
    assert cli("tasks", "list", "--status", "nonsense").exit_code == 2
