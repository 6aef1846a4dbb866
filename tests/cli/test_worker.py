"""``agentmarket worker`` on a local market: takes matching work, runs the command, gets paid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from engine import Market

from .conftest import Cli

UPPERCASE = f"{sys.executable} -c \"import json,sys; print(json.load(sys.stdin)['description'].upper())\""


def test_worker_completes_a_task_with_the_commands_output(cli: Cli) -> None:
    _, poster = cli.register("Poster", "coding")
    worker_id, worker = cli.register("Worker", "coding")
    cli.register("Outsider", "design")
    task = cli.json("tasks", "post", "--title", "Shout", "--description", "hello there", "--budget", "25",
                    "--capability", "coding", key=poster)
    result = cli("worker", "--run", UPPERCASE, "--once", "--interval", "0.1", "--json", key=worker)
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert (done["id"], done["status"], done["result"]) == (task["id"], "completed", "HELLO THERE")
    with cli.market() as market:
        assert market.balance(worker_id) == 100 + 25 * 90 // 100


def test_a_failing_command_gives_the_task_back(cli: Cli) -> None:
    _, poster = cli.register("Poster")
    _, worker = cli.register("Worker")
    task = cli.json("tasks", "post", "--title", "Doomed", "--budget", "10", key=poster)
    for command in ("exit 3", "true"):  # a non-zero exit; no output at all
        result = cli("worker", "--run", command, "--once", "--interval", "0.1", key=worker)
        assert result.exit_code == 0
        assert "releasing" in result.stderr
        shown = cli.json("tasks", "show", task["id"])
        assert (shown["status"], shown["assigned_to"]) == ("open", None)


def test_worker_skips_tasks_it_cannot_do(cli: Cli) -> None:
    _, poster = cli.register("Poster", "coding")
    _, worker = cli.register("Worker", "coding")
    foreign = cli.json("tasks", "post", "--title", "Design", "--budget", "5", "--capability", "design", key=poster)
    mine = cli.json("tasks", "post", "--title", "Code", "--budget", "5", "--capability", "coding", key=poster)
    result = cli("worker", "--run", "echo ok", "--once", "--interval", "0.1", "--json", key=worker)
    assert json.loads(result.stdout)["id"] == mine["id"]
    assert cli.json("tasks", "show", foreign["id"])["status"] == "open"


def test_worker_needs_exactly_one_way_to_work(cli: Cli) -> None:
    _, worker = cli.register("Worker")
    assert cli("worker", key=worker).exit_code == 2
    assert cli("worker", "--run", "echo", "--prompt", key=worker).exit_code == 2
    assert "system prompt" in cli("worker", "--prompt", key=worker).stderr


@pytest.mark.slow
def test_sigterm_stops_the_worker_and_releases_its_task(cli: Cli) -> None:
    _, poster = cli.register("Poster")
    _, worker = cli.register("Worker")
    task = cli.json("tasks", "post", "--title", "Slow", "--budget", "10", key=poster)
    process = subprocess.Popen(
        [sys.executable, "-c", "from agentmarket_tui.cli import main; main()", "worker", "--db", str(cli.db), "--api-key", worker,
         "--run", "sleep 30", "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        with Market(cli.db) as market:
            deadline = time.monotonic() + 20
            while market.get_task(task["id"]).status != "assigned" and time.monotonic() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=20)
            assert process.returncode == 0, err
            assert market.get_task(task["id"]).status == "open"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.slow
def test_a_signed_webhook_wakes_a_listening_worker(cli: Cli, unused_port: int) -> None:
    import httpx

    from engine.outbound.signing import signature_headers

    _, poster = cli.register("Poster")
    _, worker = cli.register("Worker")
    secret = cli.json("webhook", "set", "https://worker.example.com/hook", key=worker)["webhook_secret"]
    process = subprocess.Popen(
        [sys.executable, "-c", "from agentmarket_tui.cli import main; main()", "worker", "--db", str(cli.db),
         "--api-key", worker, "--run", "echo woken", "--interval", "120", "--once",
         "--listen", f"127.0.0.1:{unused_port}", "--webhook-secret", secret],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{unused_port}/hook"
        body = b'{"event":"task.posted"}'
        deadline = time.monotonic() + 20
        while True:  # until the listener is up
            try:
                forged = httpx.post(url, content=body, headers={"webhook-id": "x", "webhook-timestamp": "1",
                                                                "webhook-signature": "v1,AAAA"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert forged.status_code == 401
        task = cli.json("tasks", "post", "--title", "Wake up", "--budget", "10", key=poster)
        genuine = httpx.post(url, content=body, headers=signature_headers(secret, "d1", int(time.time()), body))
        assert genuine.status_code == 200
        process.communicate(timeout=20)  # well before the 120 s poll: the webhook woke it
        assert process.returncode == 0
        shown = cli.json("tasks", "show", task["id"], key=poster)
        assert (shown["status"], shown["result"]) == ("completed", "woken")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
