"""SPEC §10 in the CLI: post with timers, approve/reject/resolve, the operator's disputes; --json
for each, one-line errors."""

from __future__ import annotations

from engine import views

from .conftest import Cli


def _submitted(cli: Cli, poster: str, worker: str, *extra: str) -> str:
    posted = cli.json("tasks", "post", "--title", "Review me", "--budget", "40", "--review-hours", "2",
                      "--claim-seconds", "600", *extra, key=poster)
    assert (posted["review_hours"], posted["claim_seconds"], posted["status"]) == (2, 600, "open")
    cli.json("tasks", "accept", posted["id"], key=worker)
    submitted = cli.json("tasks", "complete", posted["id"], "--result", "A draft", key=worker)
    assert (submitted["status"], submitted["escrow"]) == ("submitted", 40)
    return posted["id"]


def test_approve_pays_the_worker(cli: Cli) -> None:
    _, poster = cli.register("Poster")
    worker_id, worker = cli.register("Worker")
    task_id = _submitted(cli, poster, worker)
    refused = cli("tasks", "approve", task_id, key=worker)
    assert refused.exit_code == 1 and refused.output.count("\n") == 1 and "[not_poster]" in refused.output
    approved = cli.json("tasks", "approve", task_id, key=poster)
    assert (approved["status"], approved["escrow"]) == ("completed", 0)
    assert cli.json("wallet", key=worker)["balance"] == 136


def test_an_evaluator_settles_a_dispute(cli: Cli) -> None:
    _, poster = cli.register("Poster")
    _, worker = cli.register("Worker")
    judge_id, judge = cli.register("Judge")
    task_id = _submitted(cli, poster, worker, "--evaluator", judge_id)
    assert "(reason)" in cli("tasks", "reject", task_id, "--reason", "", key=poster).output
    disputed = cli.json("tasks", "reject", task_id, "--reason", "Too thin", key=poster)
    assert disputed["dispute"] == {"reason": "Too thin", "worker_share": None, "note": None}
    assert cli.json("tasks", "list", "--mine", "evaluating", key=judge)[0]["id"] == task_id
    out_of_range = cli("tasks", "resolve", task_id, "--worker-share", "101", key=judge)
    assert out_of_range.exit_code == 1 and "(worker_share)" in out_of_range.output
    resolved = cli.json("tasks", "resolve", task_id, "--worker-share", "50", "--note", "Half", key=judge)
    assert (resolved["status"], resolved["dispute"]["worker_share"]) == ("completed", 50)
    assert cli.json("wallet", key=poster)["balance"] == 100 - 40 + 20
    with cli.market() as market:
        assert resolved == views.task(market.get_task(task_id), judge_id)
        assert market.verify_ledger().ok


def test_the_operator_lists_and_resolves_disputes(cli: Cli) -> None:
    _, poster = cli.register("Poster")
    worker_id, worker = cli.register("Worker")
    task_id = _submitted(cli, poster, worker)
    assert cli("disputes", "list").output.strip() == "no open disputes"
    cli.json("tasks", "reject", task_id, "--reason", "Wrong language", key=poster)
    listed = cli("disputes", "list")
    assert "Wrong language" in listed.output and task_id in listed.output
    assert [t["id"] for t in cli.json("disputes", "list")] == [task_id]
    assert cli("disputes", "resolve", task_id, "--worker-share", "1.5").exit_code == 2  # click refuses a float
    refunded = cli.json("disputes", "resolve", task_id, "--worker-share", "0", "--note", "Nothing usable")
    assert (refunded["status"], refunded["escrow"]) == ("refunded", 0)
    again = cli("disputes", "resolve", task_id, "--worker-share", "50")
    assert again.exit_code == 1 and "[invalid_state]" in again.output
    assert cli.json("disputes", "list") == []
    assert cli.json("agents", "show", worker_id)["disputes_lost"] == 1
    assert cli("ledger", "verify").exit_code == 0


def test_post_refuses_bad_timers_in_one_line(cli: Cli) -> None:
    _, poster = cli.register("Poster")
    for option, value, field in (("--deadline", "soon", "deadline"), ("--deadline", "2000-01-01T00:00:00Z", "deadline"),
                                 ("--claim-seconds", "5", "claim_seconds"), ("--review-hours", "999", "review_hours"),
                                 ("--evaluator", "nobody", "evaluator_id")):
        result = cli("tasks", "post", "--title", "T", "--budget", "5", option, value, key=poster)
        assert result.exit_code == 1 and result.output.count("\n") == 1 and f"({field})" in result.output, \
            result.output
    assert cli.json("wallet", key=poster)["balance"] == 100
