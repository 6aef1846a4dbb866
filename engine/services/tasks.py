"""The tasks service: posting, reading and listing tasks, and every change of a task's
state through one helper, :meth:`TaskService.change`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from .. import fees
from .. import validation as v
from ..errors import (
    AlreadyRated,
    EvaluatorCannotAccept,
    InvalidState,
    MissingCapabilities,
    NotFound,
    TaskExpired,
    ValidationError,
)
from ..queries import Page, TaskQuery
from ..records import Event, Task, TaskChange
from ..states import (
    ALTERNATIVE,
    DIRECT,
    DISPUTE_LOST_BELOW,
    ESCROWED,
    OPERATOR,
    TIMED,
    Action,
    TaskStatus,
    authorize,
    flow,
    resolution_status,
)
from ..storage import MarketTx
from .context import MarketContext, read_page
from .ledger import pay_out, post_charged, refund, settle_dispute
from .outbox import OutboxService

#: What runs inside a change's transaction once it is allowed: money, extra refusals.
Effect = Callable[[MarketTx, TaskChange, Task, str], None]
#: What is checked of the stored task before the state machine is: ``check(task, now)``.
Check = Callable[[Task, str], None]

def _pay(tx: MarketTx, change: TaskChange, task: Task, now: str) -> None:
    pay_out(tx, task, change.fee_percent, now)


def _refund(tx: MarketTx, change: TaskChange, task: Task, now: str) -> None:
    refund(tx, task, now)


def _lapse_claim(tx: MarketTx, change: TaskChange, task: Task, now: str) -> None:
    tx.agents.count_missed_claim(change.task.assigned_to or "")
    if task.status == TaskStatus.EXPIRED:
        refund(tx, task, now)


def _settle(tx: MarketTx, change: TaskChange, task: Task, now: str) -> None:
    share = task.worker_share or 0
    settle_dispute(tx, task, share, change.fee_percent, now)
    if share < DISPUTE_LOST_BELOW:
        tx.agents.count_dispute_lost(task.assigned_to or "")


# Whom an event's webhook goes to.
_POSTER, _ASSIGNEE, _EVALUATOR, _RECEIVERS = "poster", "assignee", "evaluator", "receivers"

#: action -> (the event it records, whom its webhook goes to, what it does with the credits).
#: Every event is a row of ``engine/event_catalog.py`` too.
_STEPS: dict[Action, tuple[str, tuple[str, ...], Effect | None]] = {
    Action.ACCEPT: ("task.assigned", (_POSTER,), None),
    Action.COMPLETE: ("task.completed", (_POSTER,), _pay),  # with a review window: task.submitted
    Action.CANCEL: ("task.cancelled", (_RECEIVERS,), _refund),  # told to the agents that were told of the task
    Action.RELEASE: ("task.released", (_POSTER,), None),
    Action.RATE: ("task.rated", (), None),
    Action.EXPIRE: ("task.expired", (_POSTER,), _refund),
    Action.LAPSE_CLAIM: ("task.claim_expired", (_POSTER, _ASSIGNEE), _lapse_claim),
    Action.APPROVE: ("task.approved", (_ASSIGNEE,), _pay),
    Action.AUTO_APPROVE: ("task.approved", (_POSTER, _ASSIGNEE), _pay),
    Action.REJECT: ("task.disputed", (_ASSIGNEE, _EVALUATOR), None),
    Action.RESOLVE: ("task.resolved", (_POSTER, _ASSIGNEE), _settle),
    Action.SUCCEED: ("task.completed", (), _pay),
    Action.FAIL: ("task.failed", (), _refund),
}
_SUBMITTED: tuple[str, tuple[str, ...], Effect | None] = ("task.submitted", (_POSTER,), None)

_KEEP: Any = object()
_AUTO = {"auto": True}  # an approval the market made when the review window lapsed


class _NotDue(Exception):
    """A sweep's task is no longer due (another process moved it on first)."""


def market_time(moment: datetime) -> str:
    """``moment`` as the market stores times: ISO 8601 UTC to the second."""
    return moment.astimezone(UTC).strftime(v.TIME_FORMAT)


class TaskService:
    """Tasks on the market."""

    def __init__(self, ctx: MarketContext, outbox: OutboxService) -> None:
        self._ctx = ctx
        self._outbox = outbox

    # -- the one way a task changes state ------------------------------------------------
    def change(self, task_id: str, action: Action, actor: str | None, *, assigned_to: str | None = _KEEP,
               result: str = _KEEP, rating: int = _KEEP, effect: Effect | None = None,
               event_data: Mapping[str, Any] | None = None, acceptor_id: str | None = None,
               check: Check | None = None, now: str | None = None, dispute_reason: str = _KEEP,
               worker_share: int = _KEEP, resolution_note: str = _KEEP) -> Task:
        """Apply ``action`` to a task in one transaction: find it, check the state machine and
        the actor's role (``states.authorize``), set its timers, run the action's effects
        (credits), store it, record its event and queue its webhooks.

        Args:
            actor: the acting agent; None when the market itself acts (settling a hire, a
                lapsed timer); ``states.OPERATOR`` for the market's operator.
            assigned_to, result, rating, dispute_reason, worker_share, resolution_note: what the
                action sets besides status, escrow, timers and updated_at.
            effect: an extra step after the checks (e.g. a refusal of its own).
            event_data: the event's data.
            acceptor_id: read this agent's capabilities too (it must exist).
            check: a refusal of its own, before the state machine's.
            now: the time of the change (default: the market's clock).

        Returns:
            The task as changed.

        Raises:
            NotFound; InvalidState (409); NotPoster, NotAssignee, NotEvaluator, OwnTask (403);
            what ``check`` and ``effect`` raise.
        """
        now = now or self._ctx.now()
        with self._ctx.store.write() as tx:
            found = tx.tasks.for_change(task_id, acceptor_id)
            if found is None:
                raise NotFound(f"no task with id {task_id!r}")
            if acceptor_id is not None and found.acceptor_capabilities is None:
                raise NotFound(f"no agent with id {acceptor_id!r}")
            t = found.task
            if check is not None:
                check(t, now)
            after = authorize(action, flow(t.kind, t.review_hours), t.status, actor, t.poster_id, t.assigned_to,
                              t.evaluator_id)
            share = t.worker_share if worker_share is _KEEP else worker_share
            if action in ALTERNATIVE and _takes_alternative(action, t, share, now):
                after = ALTERNATIVE[action]
            timed = t.kind != DIRECT
            task = Task(  # positional: dataclasses.replace costs more than the rest of this method
                t.id, t.title, t.description, t.budget, t.required_capabilities, after, t.kind, t.poster_id,
                t.assigned_to if assigned_to is _KEEP else assigned_to, t.result if result is _KEEP else result,
                t.rating if rating is _KEEP else rating, t.budget if after in ESCROWED else 0, t.created_at, now,
                t.deadline, t.claim_seconds, t.review_hours, t.evaluator_id,
                v.later(now, t.claim_seconds) if after == TaskStatus.ASSIGNED and timed else None,
                now if after == TaskStatus.SUBMITTED else t.submitted_at,
                v.later(now, t.review_hours * 3600) if after == TaskStatus.SUBMITTED else t.review_ends_at,
                t.dispute_reason if dispute_reason is _KEEP else dispute_reason, share,
                t.resolution_note if resolution_note is _KEEP else resolution_note,
            )
            steps = [_SUBMITTED if after == TaskStatus.SUBMITTED else _STEPS[action]]
            if after == TaskStatus.EXPIRED and action is not Action.EXPIRE:
                steps.append(_STEPS[Action.EXPIRE][:2] + (None,))  # the claim lapsed past the deadline
            if effect is not None:
                effect(tx, found, task, now)
            money = steps[0][2]
            if money is not None:
                money(tx, found, task, now)
            tx.tasks.update(task, t)
            agent = actor if actor != OPERATOR else None
            for event, audience, _ in steps:
                tx.events.add(event, task_id, agent or (t.assigned_to if actor is None else None), now,
                              event_data or {})
                self._notify(tx, found, event, audience, task, now)
        return task

    def _notify(self, tx: MarketTx, found: TaskChange, event: str, audience: tuple[str, ...], task: Task,
                now: str) -> None:
        if audience == (_POSTER,):
            if found.poster_has_webhook:  # the seed's common case, without another read
                self._outbox.notify_subscribed(tx, event, task, [task.poster_id], now)
        elif audience == (_RECEIVERS,):
            self._outbox.notify_receivers(tx, event, task, task.poster_id, now)
        elif audience:
            whom = {_POSTER: task.poster_id, _ASSIGNEE: found.task.assigned_to, _EVALUATOR: task.evaluator_id}
            named = list(dict.fromkeys(agent_id for agent_id in (whom[a] for a in audience) if agent_id))
            self._outbox.notify_subscribed(tx, event, task, named, now)

    # -- posting and reading ---------------------------------------------------------------
    def post(self, poster_id: str, **fields: Any) -> Task:
        """Post a task and move its budget from the poster's wallet into the task's escrow.

        Args:
            fields: those of ``validation.TASK``; ``deadline`` defaults to the market's
                ``default_task_ttl`` from now.

        Raises:
            ValidationError (also for a deadline out of bounds, an evaluator who is the poster
            or no agent); InsufficientCredits (nothing changes); NotFound (no such poster).
        """
        data = v.TASK.validate(fields)
        budget = data["budget"]
        ctx = self._ctx
        task_id = ctx.new_id()
        now = ctx.now()
        deadline = v.deadline(data.get("deadline"), now, ctx.settings.default_task_ttl)
        evaluator_id = data.get("evaluator_id")
        if evaluator_id is not None and evaluator_id == poster_id:
            raise ValidationError("evaluator_id", "evaluator_id must not be the poster")
        task = Task(
            id=task_id, title=data["title"], description=data.get("description", ""), budget=budget,
            required_capabilities=data.get("required_capabilities", ()), status=TaskStatus.OPEN, kind="market",
            poster_id=poster_id, assigned_to=None, result=None, rating=None, escrow=budget, created_at=now,
            updated_at=now, deadline=deadline, claim_seconds=data.get("claim_seconds", 86_400),
            review_hours=data.get("review_hours", 0), evaluator_id=evaluator_id,
        )
        with ctx.store.write() as tx:
            if evaluator_id is not None and tx.agents.get(evaluator_id) is None:
                raise NotFound(f"no agent with id {evaluator_id!r}", field="evaluator_id")
            post_charged(tx, task, now)
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
            NotFound; InvalidState (409) unless open; TaskExpired (409) past its deadline, swept
            or not; OwnTask (403) for the poster; EvaluatorCannotAccept (403) for its evaluator;
            MissingCapabilities (403) when the agent lacks a required capability.
        """
        return self.change(task_id, Action.ACCEPT, agent_id, assigned_to=agent_id, check=_not_expired,
                           effect=_acceptable_by, acceptor_id=agent_id)

    def complete(self, task_id: str, agent_id: str, result: Any) -> Task:
        """Complete an assigned task: the assignee gets the budget less the fee, the platform the fee;
        or, with a review window, submit the result for the poster's review (escrow still held).

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

    # -- review and disputes (SPEC §10) -------------------------------------------------------
    def approve(self, task_id: str, agent_id: str) -> Task:
        """The poster accepts a submitted result: paid as completion is.

        Raises:
            NotFound; NotPoster (403); InvalidState (409) unless submitted.
        """
        return self.change(task_id, Action.APPROVE, agent_id)

    def reject(self, task_id: str, agent_id: str, reason: Any) -> Task:
        """The poster disputes a submitted result; the escrow stays held until the dispute is resolved.

        Raises:
            ValidationError (``reason`` missing, empty or over 2,000 characters); NotFound;
            NotPoster (403); InvalidState (409) unless submitted.
        """
        reason = v.REJECTION.validate({"reason": reason})["reason"]
        return self.change(task_id, Action.REJECT, agent_id, dispute_reason=reason, event_data={"reason": reason})

    def resolve(self, task_id: str, actor: str, worker_share: Any, note: Any = "") -> Task:
        """Settle a dispute (SPEC §10): ``p = floor(budget * worker_share / 100)`` to the worker's
        side (less the fee), the rest back to the poster; completed when p > 0, else refunded.

        Args:
            actor: the task's evaluator, or ``states.OPERATOR``.

        Raises:
            ValidationError (``worker_share`` not an integer 0-100, ``note`` too long); NotFound;
            NotEvaluator (403); InvalidState (409) unless disputed.
        """
        data = v.RESOLUTION.validate({"worker_share": worker_share, "note": note or ""})
        share = data["worker_share"]
        return self.change(task_id, Action.RESOLVE, actor, worker_share=share, resolution_note=data["note"],
                           event_data={"worker_share": share, "note": data["note"]})

    # -- timers (SPEC §10) ---------------------------------------------------------------------
    def sweep(self, now: datetime | None = None, batch: int = 500) -> list[Task]:
        """Apply every lapsed timer: expire open tasks past their deadline, take back lapsed
        claims, approve results whose review window passed. One transaction per task, each
        re-checking inside its write lock that the timer still lapsed, so sweeps running at
        once in several threads or processes change each task once.

        Args:
            now: the time to sweep at (default: the market's clock).

        Returns:
            The tasks this sweep changed, as changed.
        """
        at = self._ctx.now() if now is None else market_time(now)
        changed: list[Task] = []
        while True:
            with self._ctx.store.read() as tx:
                due = tx.tasks.due(at, batch)
            for task_id, status in due:
                action = TIMED[TaskStatus(status)]
                freed = None if action is Action.LAPSE_CLAIM else _KEEP  # a lapsed claim frees the task
                try:
                    changed.append(self.change(task_id, action, None, assigned_to=freed, check=_due, now=at,
                                               event_data=_AUTO if action is Action.AUTO_APPROVE else None))
                except (_NotDue, InvalidState):
                    continue  # another sweep or an agent moved it on first
            if len(due) < batch:
                return changed


def found_task(tx: MarketTx, task_id: str) -> Task:
    """The task. Raises NotFound."""
    task = tx.tasks.get(task_id)
    if task is None:
        raise NotFound(f"no task with id {task_id!r}")
    return task


def _takes_alternative(action: Action, task: Task, worker_share: int | None, now: str) -> bool:
    """Whether ``action`` leads to its ``states.ALTERNATIVE`` status."""
    if action is Action.RESOLVE:
        return resolution_status(fees.dispute_share(task.budget, worker_share or 0)) is TaskStatus.REFUNDED
    return task.deadline is not None and task.deadline <= now  # a claim lapsing past the deadline


def _not_expired(task: Task, now: str) -> None:
    if task.status == TaskStatus.EXPIRED or (task.status == TaskStatus.OPEN and task.deadline is not None
                                             and task.deadline <= now):
        raise TaskExpired(f"the task's deadline ({task.deadline}) has passed")


def _due(task: Task, now: str) -> None:
    due_at = task.due_at
    if due_at is None or due_at > now:
        raise _NotDue(task.id)


def _acceptable_by(tx: MarketTx, found: TaskChange, task: Task, now: str) -> None:
    if task.evaluator_id is not None and task.evaluator_id == task.assigned_to:
        raise EvaluatorCannotAccept("the task's evaluator cannot also be its assignee", field="evaluator_id")
    has = found.acceptor_capabilities or ()
    missing = [c for c in task.required_capabilities if c not in has]
    if missing:
        raise MissingCapabilities("the task needs capabilities this agent lacks: " + ", ".join(missing),
                                  missing=missing)
