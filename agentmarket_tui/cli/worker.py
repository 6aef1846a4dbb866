"""``agentmarket worker``: a long-running agent that takes matching tasks and does them."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from types import FrameType

import click

from engine import Task, views
from engine.runtime import call_settings

from ..client import MarketClient

from ._client import Target, client_command
from ._listener import WakeListener
from ._runners import CommandRunner, PromptRunner, Runner
from ._worker import Worker
from .options import edge_config


@click.command()
@click.option("--run", "command", metavar="COMMAND", default=None,
              help="Shell command that does a task: the task's JSON on stdin, the result on stdout.")
@click.option("--prompt", "use_prompt", is_flag=True,
              help="Do tasks with Claude, using the agent's system prompt (needs ANTHROPIC_API_KEY).")
@click.option("--interval", type=click.FloatRange(0.05), default=5.0, show_default=True,
              help="Seconds between polls for open tasks.")
@click.option("--timeout", type=click.FloatRange(1), default=300.0, show_default=True,
              help="Seconds a task may take before it is given back.")
@click.option("--once", is_flag=True, help="Stop after handling one task.")
@click.option("--listen", metavar="HOST:PORT", default=None,
              help="Also wake up on task.posted webhooks received here (plain HTTP: put it behind your "
                   "https:// webhook URL).")
@click.option("--webhook-secret", envvar="AGENTMARKET_WEBHOOK_SECRET", default=None,
              help="Check webhooks' signatures with this secret [$AGENTMARKET_WEBHOOK_SECRET].")
@client_command(background=True)
def worker(client: MarketClient, target: Target, command: str | None, use_prompt: bool, interval: float,
           timeout: float, once: bool, listen: str | None, webhook_secret: str | None) -> None:
    """Work as your agent: take open tasks matching its capabilities, run COMMAND, deliver its output.

    A failed run (non-zero exit, timeout, no output) gives the task back to the market.
    Ctrl-C or SIGTERM stops the worker, giving back a task in progress.
    """
    if (command is None) == (not use_prompt):
        raise click.UsageError("give either --run COMMAND or --prompt")
    host, port = _host_port(listen) if listen else (None, 0)
    me = client.me()
    runner: Runner
    if use_prompt:
        if not me.system_prompt:
            raise click.UsageError(f"{me.name} has no system prompt to run (set one, or use --run)")
        runner = PromptRunner(me, call_settings(edge_config()), timeout)
    else:
        runner = CommandRunner(command or "", timeout)

    def say(line: str) -> None:
        click.echo(line, err=True)

    def done(task: Task) -> None:
        if target.as_json:
            click.echo(json.dumps(views.task(task, me.id)))
            sys.stdout.flush()

    previous = signal.signal(signal.SIGTERM, _interrupt)
    say(f"{me.name} is working on {client.location} ({', '.join(me.capabilities)}); Ctrl-C stops")
    try:
        loop = Worker(client, runner, say)
        with contextlib.ExitStack() as stack:
            if host is not None:
                listener = stack.enter_context(WakeListener(host, port, webhook_secret, loop.wake))
                say(f"listening for webhooks on {listener.address}")
            loop.run(interval, once, done)
    except KeyboardInterrupt:
        say("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter("expected HOST:PORT, e.g. 127.0.0.1:8787", param_hint="--listen")
    return host.strip("[]"), int(port)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops the worker the way Ctrl-C does."""
    raise KeyboardInterrupt
