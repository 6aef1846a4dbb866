"""The tasks service: posting, reading and listing tasks, and every change of a task's
state through one helper, :meth:`TaskService.change`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import validation as v
from ..errors import AlreadyRated, MissingCapabilities, NotFound
from ..queries import Page, TaskQuery
from ..records import Event, Task, TaskChange
from ..states import ESCROWED, Action, TaskStatus, authorize
from ..storage import MarketTx
from .context import MarketContext, read_page
from .ledger import charge, pay_out, refund
from .outbox import OutboxService

#: What runs inside a change's transaction once it is allowed: money, extra refusals.
Effect = Callable[[MarketTx, TaskChange, Task, str], None]

_POSTER, _RECEIVERS = "poster", "receivers"


def _pay(tx: MarketTx, change: TaskChange, task: Task, now: str) -> None:
    pay_out(tx, task, change.fee_percent, now)


def _refund(tx: MarketTx, change: TaskChange, task: Task, now: str) -> None:
    refund(tx, task, now)


#: action -> (the event it records, whom its webhook goes to, what it does with the credits)
_STEPS: dict[Action, tuple[str, str | None, Effect | None]] = {
    Action.ACCEPT: ("task.assigned", _POSTER, None),
    Action.COMPLETE: ("task.completed", _POSTER, _pay),
    Action.CANCEL: ("task.cancelled", _RECEIVERS, _refund),  # told to the agents that were told of the task
    Action.RELEASE: ("task.released", _POSTER, None),
    Action.RATE: ("task.rated", None, None),
    Action.SUCCEED: ("task.completed", None, _pay),
    Action.FAIL: ("task.failed", None, _refund),
}
_KEEP: Any = object()


class TaskService:
    """Tasks on the market."""

    def __init__(self, ctx: MarketContext, outbox: OutboxService) -> None:
        self._ctx = ctx
        self._outbox = outbox

    # -- the one way a task changes state ------------------------------------------------
    def change(self, task_id: str, action: Action, actor: str | None, *, assigned_to: str | None = _KEEP,
               result: str = _KEEP, rating: int = _KEEP, effect: Effect | None = None,
               event_data: Mapping[str, Any] | None = None, acceptor_id: str | None = None) -> Task:
        """Apply ``action`` to a task in one transaction: find it, check the state machine and
        the actor's role (``states.authorize``), run the action's effects (credits), store it,
        record its event and queue its webhooks.

        Args:
            actor: the acting agent; None when the market itself acts (settling a hire).
            assigned_to, result, rating: what the action sets besides status, escrow and updated_at.
            effect: an extra step after the checks (e.g. a refusal of its own).
            event_data: the event's data.
            acceptor_id: read this agent's capabilities too (it must exist).

        Returns:
            The task as changed.

        Raises:
            NotFound; InvalidState (409); NotPoster, NotAssignee, OwnTask (403); what ``effect`` raises.
        """
        now = self._ctx.now()
        with self._ctx.store.write() as tx:
            found = tx.tasks.for_change(task_id, acceptor_id)
            if found is None:
                raise NotFound(f"no task with id {task_id!r}")
            if acceptor_id is not None and found.acceptor_capabilities is None:
                raise NotFound(f"no agent with id {acceptor_id!r}")
            t = found.task
            after = authorize(action, t.kind, t.status, actor, t.poster_id, t.assigned_to)
            task = Task(  # positional: dataclasses.replace costs more than the rest of this method
                t.id, t.title, t.description, t.budget, t.required_capabilities, after, t.kind, t.poster_id,
                t.assigned_to if assigned_to is _KEEP else assigned_to, t.result if result is _KEEP else result,
                t.rating if rating is _KEEP else rating, t.budget if after in ESCROWED else 0, t.created_at, now,
            )
            event, audience, money = _STEPS[action]
            if effect is not None:
                effect(tx, found, task, now)
            if money is not None:
                money(tx, found, task, now)
            tx.tasks.update(task)
            tx.events.add(event, task_id, actor or task.assigned_to, now, event_data or {})
            if audience == _POSTER and found.poster_has_webhook:
                self._outbox.notify_subscribed(tx, event, task, [task.poster_id], now)
            elif audience == _RECEIVERS:
                self._outbox.notify_receivers(tx, event, task, task.poster_id, now)
        return task

    # -- posting and reading ---------------------------------------------------------------
    def post(self, poster_id: str, **fields: Any) -> Task:
        """Post a task and move its budget from the poster's wallet into the task's escrow.

        Args:
            fields: those of ``validation.TASK``.

        Raises:
            ValidationError; InsufficientCredits (nothing changes); NotFound (no such poster).
        """
        data = v.TASK.validate(fields)
        budget = data["budget"]
        ctx = self._ctx
        task_id = ctx.new_id()
        now = ctx.now()
        task = Task(
            id=task_id, title=data["title"], description=data["description"], budget=budget,
            required_capabilities=data["required_capabilities"], status=TaskStatus.OPEN, kind="market",
            poster_id=poster_id, assigned_to=None, result=None, rating=None, escrow=budget, created_at=now,
            updated_at=now,
        )
        with ctx.store.write() as tx:
            charge(tx, poster_id, budget, task_id, now)
            tx.tasks.insert(task)
            tx.events.add("task.posted", task_id, poster_id, now, {"title": task.title, "budget": budget})
            self._outbox.notify_receivers(tx, "task.posted", task, poster_id, now)
        return task

    def get(self, task_id: str) -> Task:
        """One task. Raises NotFound."""
        with self._ctx.store.read() as tx:
            return found_task(tx, task_id)

    def page(self, query: TaskQuery) -> Page[Task]:
        """The tasks ``query`` selects: one page and the total, from one snapshot."""
        return read_page(self._ctx, query, lambda tx: tx.tasks)

    def timeline(self, task_id: str) -> list[Event]:
        """What happened to a task, oldest first. Raises NotFound."""
        with self._ctx.store.read() as tx:
            found_task(tx, task_id)
            return tx.events.for_task(task_id)

    # -- the market's changes ----------------------------------------------------------------
    def accept(self, task_id: str, agent_id: str) -> Task:
        """Assign an open task to ``agent_id``.

        Raises:
            NotFound; InvalidState (409) unless open; OwnTask (403) for the poster;
            MissingCapabilities (403) when the agent lacks a required capability.
        """
        return self.change(task_id, Action.ACCEPT, agent_id, assigned_to=agent_id,
                           effect=_require_capabilities, acceptor_id=agent_id)

    def complete(self, task_id: str, agent_id: str, result: Any) -> Task:
        """Complete an assigned task: the assignee gets the budget less the fee, the platform the fee.

        Raises:
            ValidationError (empty or oversized result); NotFound; NotAssignee (403);
            InvalidState (409) unless assigned.
        """
        result = v.RESULT.validate({"result": result})["result"]
        return self.change(task_id, Action.COMPLETE, agent_id, result=result)

    def cancel(self, task_id: str, agent_id: str) -> Task:
        """The poster withdraws an open task; its whole escrow goes back to the poster.

        Raises:
            NotFound; NotPoster (403); InvalidState (409) unless open.
        """
        return self.change(task_id, Action.CANCEL, agent_id)

    def release(self, task_id: str, agent_id: str) -> Task:
        """The assignee gives an assigned task back; it is open again, its escrow still held.

        Raises:
            NotFound; NotAssignee (403); InvalidState (409) unless assigned (market tasks only).
        """
        return self.change(task_id, Action.RELEASE, agent_id, assigned_to=None)

    def rate(self, task_id: str, agent_id: str, rating: Any) -> Task:
        """The poster rates a completed task once, 1–5; the assignee's reputation follows.

        Raises:
            ValidationError; NotFound; NotPoster (403); InvalidState (409) unless completed;
            AlreadyRated (409).
        """
        rating = v.RATING.validate({"rating": rating})["rating"]

        def add_rating(tx: MarketTx, found: TaskChange, task: Task, now: str) -> None:
            if found.task.rating is not None:
                raise AlreadyRated("this task has been rated already")
            tx.agents.add_rating(task.assigned_to or "", rating)

        return self.change(task_id, Action.RATE, agent_id, rating=rating, effect=add_rating,
                           event_data={"rating": rating})


def found_task(tx: MarketTx, task_id: str) -> Task:
    """The task. Raises NotFound."""
    task = tx.tasks.get(task_id)
    if task is None:
        raise NotFound(f"no task with id {task_id!r}")
    return task


def _require_capabilities(tx: MarketTx, found: TaskChange, task: Task, now: str) -> None:
    has = found.acceptor_capabilities or ()
    missing = [c for c in task.required_capabilities if c not in has]
    if missing:
        raise MissingCapabilities("the task needs capabilities this agent lacks: " + ", ".join(missing),
                                  missing=missing)
