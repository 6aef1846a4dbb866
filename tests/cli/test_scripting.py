"""The scripting commands on a local market file: JSON equals the API's data, tables for people."""

from __future__ import annotations

from engine import views

from .conftest import Cli


def test_register_prints_the_key_once_and_asks_to_keep_it(cli: Cli) -> None:
    result = cli("register", "--name", "Alice", "--capability", "research", "--capability", "writing",
                 "--owner-email", "alice@example.com", "--price", "15")
    assert result.exit_code == 0
    key = next(line.split()[-1] for line in result.stdout.splitlines() if line.startswith("API key:"))
    assert len(key) == 64
    assert "Keep this key" in result.stderr
    with cli.market() as market:
        agent = market.authenticate(key)
    assert (agent.name, agent.capabilities, agent.price_per_task) == ("Alice", ("research", "writing"), 15)


def test_register_json_is_the_registration_data(cli: Cli) -> None:
    data = cli.json("register", "--name", "Bob", "--capability", "coding", "--owner-email", "bob@example.com",
                    "--webhook-url", "https://bob.example.com/hook")
    assert set(data) == {"id", "name", "api_key", "capabilities", "webhook_secret"}
    assert data["capabilities"] == ["coding"]


def test_a_task_lifecycle_through_the_cli(cli: Cli) -> None:
    poster_id, poster = cli.register("Poster")
    worker_id, worker = cli.register("Worker")
    posted = cli.json("tasks", "post", "--title", "Fix the parser", "--description", "It chokes on tabs",
                      "--budget", "25", "--capability", "coding", key=poster)
    with cli.market() as market:
        assert posted == views.task(market.get_task(posted["id"]), poster_id)
        assert market.balance(poster_id) == 75

    accepted = cli.json("tasks", "accept", posted["id"], key=worker)
    assert (accepted["status"], accepted["assigned_to"]) == ("assigned", worker_id)
    completed = cli.json("tasks", "complete", posted["id"], "--result", "Tabs are fine now", key=worker)
    assert (completed["status"], completed["result"]) == ("completed", "Tabs are fine now")
    rated = cli.json("tasks", "rate", posted["id"], "--rating", "5", key=poster)
    assert rated["rating"] == 5

    assert cli.json("wallet", key=worker) == {"agent_id": worker_id, "balance": 122, "escrowed": 0,
                                              "earned": 22, "spent": 0}
    history = cli.json("wallet", "--transactions", key=worker)
    assert [(t["kind"], t["amount"]) for t in history] == [("payout", 22), ("grant", 100)]
    assert cli.json("agents", "show", worker_id)["reputation_score"] == 5.0


def test_lists_equal_the_api_data(cli: Cli) -> None:
    poster_id, poster = cli.register("Poster", "coding", "research")
    for n in range(3):
        cli("tasks", "post", "--title", f"Task {n}", "--budget", "5", "--capability", "research", key=poster)
    with cli.market() as market:
        tasks = [views.task(t) for t in market.list_tasks()]
        agents = [views.agent_public(a) for a in market.list_agents()]
    assert cli.json("tasks", "list") == tasks
    assert cli.json("tasks", "list", "--status", "open", "--capability", "research") == tasks
    assert cli.json("tasks", "list", "--status", "completed") == []
    assert cli.json("agents", "list") == agents
    assert [t["title"] for t in cli.json("tasks", "list", "--mine", "posted", key=poster)] == \
        ["Task 2", "Task 1", "Task 0"]
    me = cli.json("agents", "me", key=poster)
    assert (me["id"], me["owner_email"]) == (poster_id, "poster@example.com")


def test_result_is_shown_only_to_poster_and_assignee(cli: Cli) -> None:
    _, poster = cli.register("Poster")
    _, worker = cli.register("Worker")
    _, stranger = cli.register("Stranger")
    task = cli.json("tasks", "post", "--title", "T", "--budget", "3", key=poster)
    cli("tasks", "accept", task["id"], key=worker)
    cli("tasks", "complete", task["id"], "--result", "secret sauce", key=worker)
    assert cli.json("tasks", "show", task["id"], key=poster)["result"] == "secret sauce"
    assert "result" not in cli.json("tasks", "show", task["id"], key=stranger)
    assert "result" not in cli.json("tasks", "show", task["id"])


def test_cancel_refunds_and_release_reopens(cli: Cli) -> None:
    poster_id, poster = cli.register("Poster")
    _, worker = cli.register("Worker")
    first = cli.json("tasks", "post", "--title", "One", "--budget", "30", key=poster)
    second = cli.json("tasks", "post", "--title", "Two", "--budget", "10", key=poster)
    assert cli.json("tasks", "cancel", first["id"], key=poster)["status"] == "cancelled"
    cli("tasks", "accept", second["id"], key=worker)
    released = cli.json("tasks", "release", second["id"], key=worker)
    assert (released["status"], released["assigned_to"]) == ("open", None)
    assert cli.json("wallet", key=poster)["balance"] == 90


def test_human_output_is_a_table(cli: Cli) -> None:
    _, poster = cli.register("Poster")
    cli("tasks", "post", "--title", "Write docs", "--budget", "12", "--capability", "writing", key=poster)
    result = cli("tasks", "list")
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["ID", "STATUS", "BUDGET", "NEEDS", "TITLE"]
    assert row.split()[1:] == ["open", "12", "writing", "Write", "docs"]
    assert "Poster" in cli("agents", "list").stdout


def test_webhook_set_get_clear(cli: Cli) -> None:
    _, key = cli.register("Hooked")
    data = cli.json("webhook", "set", "https://hooked.example.com/agentmarket", key=key)
    assert data["webhook_url"] == "...gentmarket"
    assert data["webhook_secret"].startswith("whsec_")
    assert cli.json("webhook", "get", key=key)["webhook_url"] == "...gentmarket"
    assert cli.json("webhook", "clear", key=key)["webhook_url"] is None


def test_webhook_events_rotation_ping_and_redelivery(cli: Cli) -> None:
    _, key = cli.register("Manager")
    assert cli("webhook", "rotate-secret", key=key).exit_code == 1  # no URL yet: one line, non-zero
    first = cli.json("webhook", "set", "https://manager.example.com/hook", key=key)["webhook_secret"]
    catalog = cli("webhook", "events", key=key)
    assert "task.assigned" in catalog.stdout and "task.posted" in catalog.stdout
    chosen = cli.json("webhook", "events", "task.posted", "task.completed", "--all-tasks", key=key)
    assert (chosen["events"], chosen["all_tasks"]) == (["task.posted", "task.completed"], True)
    unknown = cli("webhook", "events", "task.exploded", key=key)
    assert unknown.exit_code == 2 and "task.exploded" in unknown.output
    rotated = cli.json("webhook", "rotate-secret", key=key)
    assert rotated["webhook_secret"] != first and rotated["previous_secret_until"]
    ping = cli.json("webhook", "test", key=key)
    assert (ping["event"], ping["status"]) == ("ping", "pending")
    pending = cli("webhook", "redeliver", ping["id"], key=key)
    assert pending.exit_code == 1 and "pending" in pending.output and len(pending.output.strip().splitlines()) == 1


def test_environment_variables_select_market_and_agent(cli: Cli, monkeypatch) -> None:
    agent_id, key = cli.register("Env")
    monkeypatch.setenv("AGENTMARKET_DB", str(cli.db))
    monkeypatch.setenv("AGENTMARKET_API_KEY", key)
    result = cli("wallet", "--json", target=[])
    assert result.exit_code == 0
    assert '"agent_id": "%s"' % agent_id in result.stdout


def test_webhook_deliveries_list_queued_events(cli: Cli) -> None:
    _, listener = cli.register("Listener", "coding")
    _, poster = cli.register("Poster", "coding")
    cli("webhook", "set", "https://listener.example.com/hook", key=listener)
    task = cli.json("tasks", "post", "--title", "Needs code", "--budget", "5", "--capability", "coding", key=poster)
    deliveries = cli.json("webhook", "deliveries", key=listener)
    assert [(d["event"], d["task_id"]) for d in deliveries] == [("task.posted", task["id"])]
    assert "task.posted" in cli("webhook", "deliveries", key=listener).stdout
    assert cli.json("webhook", "deliveries", key=poster) == []


def test_an_explicit_db_wins_over_the_url_in_the_environment(cli: Cli, monkeypatch, unused_port: int) -> None:
    cli.register("Local")
    monkeypatch.setenv("AGENTMARKET_URL", f"http://127.0.0.1:{unused_port}")
    assert [a["name"] for a in cli.json("agents", "list")] == ["Local"]
    assert cli("agents", "list", target=[]).exit_code == 1  # the URL from the environment, unreachable
