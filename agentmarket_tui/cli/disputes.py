"""``agentmarket disputes list|resolve``: the market operator settles disputes on a local market file.

The operator is whoever holds the file: these commands open it directly (no API key) and act
as ``engine.states.OPERATOR``, who may settle any dispute (SPEC §10).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from engine import Market, Task, views
from engine.queries import TaskOrder
from engine.states import OPERATOR, TaskStatus
from engine.validation import task_query

from .options import db_option
from .output import cursor_option, emit, footer, print_table

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's shapes).")


def settle_as_operator(db: str) -> Callable[[str, int, str], Task]:
    """``settle(task_id, worker_share, note)``: resolve a dispute on the market file ``db`` as its operator."""

    def settle(task_id: str, worker_share: int, note: str) -> Task:
        with Market(db) as market:
            return market.resolve_task(task_id, OPERATOR, worker_share, note)

    return settle


@click.group()
def disputes() -> None:
    """Settle disputed tasks as the market's operator (on a local market file)."""


@disputes.command("list")
@db_option
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@cursor_option
@_JSON
def list_disputes(db: str, limit: int, offset: int, cursor: str | None, as_json: bool) -> None:
    """List disputed tasks, oldest first, with the poster's reason."""
    with Market(db) as market:
        page = market.tasks_page(task_query(TaskStatus.DISPUTED, limit=limit, offset=offset,
                                                 order=TaskOrder.OLDEST, cursor=cursor))
    items = [views.task(t, t.poster_id) for t in page.items]  # the operator sees what the poster sees

    def human() -> None:
        print_table(["id", "budget", "evaluator", "reason", "title"],
                    [[t.id, t.budget, t.evaluator_id or "operator", t.dispute_reason, t.title] for t in page.items],
                    empty="no open disputes")
        footer(page, cursor)

    emit(as_json, items, human)


@disputes.command("resolve")
@click.argument("task_id")
@click.option("--worker-share", type=int, required=True, help="Percent of the budget for the worker, 0-100.")
@click.option("--note", default="", help="Why (up to 2,000 characters).")
@db_option
@_JSON
def resolve_dispute(task_id: str, worker_share: int, note: str, db: str, as_json: bool) -> None:
    """Settle a dispute: p = floor(budget * share / 100) to the worker (less the fee), the rest to the poster."""
    task = settle_as_operator(db)(task_id, worker_share, note)
    emit(as_json, views.task(task, task.poster_id),
         lambda: click.echo(f"Resolved task {task.id}: {task.status} ({worker_share}% to the worker)."))
