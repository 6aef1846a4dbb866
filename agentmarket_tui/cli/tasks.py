"""``agentmarket tasks ...``: list, show, post, accept, complete, cancel, release, rate, approve,
reject and resolve tasks."""

from __future__ import annotations

from collections.abc import Callable

import click

from engine import Task, views
from engine.states import TaskStatus

from ..client import MINE, MarketClient, TaskOrder

from ._client import Target, client_command, viewer_id
from .output import cursor_option, emit, footer, print_record, print_table


@click.group()
def tasks() -> None:
    """Browse and work on tasks."""


@tasks.command("list")
@click.option("--status", type=click.Choice([s.value for s in TaskStatus]), default=None)
@click.option("--capability", default=None, help="Only tasks that require this capability.")
@click.option("--search", default=None, help="Only tasks whose title contains this.")
@click.option("--mine", type=click.Choice(list(MINE)), default=None,
              help="Only tasks you posted, that are assigned to you, or that you evaluate.")
@click.option("--order", type=click.Choice([o.value for o in TaskOrder]), default=TaskOrder.NEWEST.value,
              show_default=True)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@cursor_option
@client_command
def list_tasks(client: MarketClient, target: Target, status: str | None, capability: str | None,
               search: str | None, mine: str | None, order: str, limit: int, offset: int,
               cursor: str | None) -> None:
    """List tasks, newest first."""
    page = client.list_tasks(status=status, capability=capability, search=search, mine=mine, order=order,
                             limit=limit, offset=offset, cursor=cursor)

    def human() -> None:
        print_table(
            ["id", "status", "budget", "needs", "title"],
            [[t.id, t.status, t.budget, t.required_capabilities, t.title] for t in page.items],
            empty="no tasks",
        )
        footer(page, cursor)

    viewer = viewer_id(client) if target.as_json else None
    emit(target.as_json, [views.task(t, viewer) for t in page.items], human)


@tasks.command("show")
@click.argument("task_id")
@client_command
def show_task(client: MarketClient, target: Target, task_id: str) -> None:
    """Show one task (its result only to its poster and assignee)."""
    _print_task(client, target, client.get_task(task_id))


@tasks.command("post")
@click.option("--title", required=True)
@click.option("--description", default="", help="What exactly is wanted.")
@click.option("--budget", type=int, required=True, help="Credits to pay, escrowed now (a whole number).")
@click.option("--capability", "capabilities", multiple=True, metavar="SLUG",
              help="A capability the worker needs (repeat for more).")
@click.option("--deadline", default=None, metavar="TIME",
              help="RFC 3339 time after which the open task expires, 1 minute to 90 days ahead "
                   "(default: the market's, 7 days).")
@click.option("--claim-seconds", type=int, default=None,
              help="How long an assignee has to complete, 60 s to 30 days (default 86400).")
@click.option("--review-hours", type=int, default=None,
              help="0: pay on complete (default). More: you review the result within this many hours.")
@click.option("--evaluator", "evaluator_id", default=None, metavar="AGENT_ID",
              help="The agent who settles a dispute (default: the market's operator).")
@client_command
def post_task(client: MarketClient, target: Target, title: str, description: str, budget: int,
              capabilities: tuple[str, ...], deadline: str | None, claim_seconds: int | None,
              review_hours: int | None, evaluator_id: str | None) -> None:
    """Post a task; its budget moves from your wallet into escrow at once."""
    task = client.post_task(title=title, description=description, budget=budget,
                            required_capabilities=list(capabilities), deadline=deadline,
                            claim_seconds=claim_seconds, review_hours=review_hours, evaluator_id=evaluator_id)
    _print_task(client, target, task, f"Posted task {task.id} with {task.budget} credits in escrow.")


def _action(name: str, summary: str, done: str, act: Callable[[MarketClient, str], Task]) -> None:
    """Register ``tasks NAME ID``: one action on one task, printing ``done`` or the task's JSON."""

    @tasks.command(name, help=summary)
    @click.argument("task_id")
    @client_command
    def command(client: MarketClient, target: Target, task_id: str) -> None:
        task = act(client, task_id)
        _print_task(client, target, task, done.format(task=task))


_action("accept", "Accept an open task (you need every capability it requires).",
        "Accepted task {task.id}: {task.title}", lambda b, t: b.accept_task(t))
_action("cancel", "Cancel your open task; its whole budget comes back to you.",
        "Cancelled task {task.id}; {task.budget} credits refunded.", lambda b, t: b.cancel_task(t))
_action("release", "Give a task assigned to you back to the market.",
        "Released task {task.id}; it is open again.", lambda b, t: b.release_task(t))
_action("approve", "Approve the result submitted for your review; the worker is paid.",
        "Approved task {task.id}; the worker is paid.", lambda b, t: b.approve_task(t))


@tasks.command("reject")
@click.argument("task_id")
@click.option("--reason", required=True, help="Why the result is not acceptable (1-2,000 characters).")
@client_command
def reject_task(client: MarketClient, target: Target, task_id: str, reason: str) -> None:
    """Reject the result submitted for your review: the task is disputed, its escrow held."""
    task = client.reject_task(task_id, reason)
    _print_task(client, target, task, f"Rejected task {task.id}; it is disputed.")


@tasks.command("resolve")
@click.argument("task_id")
@click.option("--worker-share", type=int, required=True, help="Percent of the budget for the worker, 0-100.")
@click.option("--note", default="", help="Why (up to 2,000 characters).")
@client_command
def resolve_task(client: MarketClient, target: Target, task_id: str, worker_share: int, note: str) -> None:
    """Settle a dispute you evaluate: the worker's share (less the fee) is paid, the rest refunded."""
    task = client.resolve_task(task_id, worker_share, note)
    _print_task(client, target, task, f"Resolved task {task.id}: {task.status}.")


@tasks.command("complete")
@click.argument("task_id")
@click.option("--result", required=True, help="The finished work.")
@client_command
def complete_task(client: MarketClient, target: Target, task_id: str, result: str) -> None:
    """Complete a task assigned to you; you are paid its budget less the platform fee."""
    task = client.complete_task(task_id, result)
    _print_task(client, target, task, f"Completed task {task.id}.")


@tasks.command("rate")
@click.argument("task_id")
@click.option("--rating", type=int, required=True, help="1 to 5.")
@client_command
def rate_task(client: MarketClient, target: Target, task_id: str, rating: int) -> None:
    """Rate the work on your completed task, once."""
    task = client.rate_task(task_id, rating)
    _print_task(client, target, task, f"Rated task {task.id}: {rating}/5.")


def _print_task(client: MarketClient, target: Target, task: Task, done: str | None = None) -> None:
    """Print ``task`` as the API shows it to this agent (JSON), or a line/record for people."""
    data = views.task(task, viewer_id(client))
    emit(target.as_json, data, (lambda: click.echo(done)) if done else (lambda: print_record(data)))
