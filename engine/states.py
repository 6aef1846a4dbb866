"""The task state machine (SPEC §3, §10): the one place that says which action is allowed when.

```
open --accept--> assigned --complete--> completed --rate--> (rated)        (review_hours = 0: the seed's flow)
                 assigned --complete--> submitted --approve (poster)--> completed
                                        submitted --review window lapses--> completed (auto-approved)
                                        submitted --reject (poster)--> disputed --resolve--> completed | refunded
open --cancel (poster)--> cancelled
open --deadline passes--> expired (refunded)
assigned --release (assignee)--> open
assigned --claim window lapses--> open (or expired, when the deadline has passed too)
direct execution: assigned (to the hired agent) --> completed | failed (refunded)
```

A task follows one of three flows: ``market`` (posted, ``review_hours`` 0), ``reviewed``
(posted with a review window) and ``direct`` (a hire).
"""

from __future__ import annotations

from enum import StrEnum

from .errors import InvalidState, NotAssignee, NotEvaluator, NotPoster, OwnTask


class TaskStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    DISPUTED = "disputed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    FAILED = "failed"


class Action(StrEnum):
    ACCEPT = "accept"
    COMPLETE = "complete"
    CANCEL = "cancel"
    RELEASE = "release"
    RATE = "rate"
    APPROVE = "approve"
    REJECT = "reject"
    RESOLVE = "resolve"
    EXPIRE = "expire"  # the deadline of an open task passed
    LAPSE_CLAIM = "lapse_claim"  # the assignee's claim window passed
    AUTO_APPROVE = "auto_approve"  # the poster's review window passed
    SUCCEED = "succeed"  # a direct execution returned a result
    FAIL = "fail"  # a direct execution failed


#: The flows a task can follow (see :func:`flow`).
MARKET, REVIEWED, DIRECT = "market", "reviewed", "direct"
_POSTED = (MARKET, REVIEWED)

#: (action, flow) -> (status it needs, status it leads to)
TRANSITIONS: dict[tuple[Action, str], tuple[TaskStatus, TaskStatus]] = {
    **{(Action.ACCEPT, f): (TaskStatus.OPEN, TaskStatus.ASSIGNED) for f in _POSTED},
    (Action.COMPLETE, MARKET): (TaskStatus.ASSIGNED, TaskStatus.COMPLETED),
    (Action.COMPLETE, REVIEWED): (TaskStatus.ASSIGNED, TaskStatus.SUBMITTED),
    **{(Action.CANCEL, f): (TaskStatus.OPEN, TaskStatus.CANCELLED) for f in _POSTED},
    **{(Action.RELEASE, f): (TaskStatus.ASSIGNED, TaskStatus.OPEN) for f in _POSTED},
    **{(Action.EXPIRE, f): (TaskStatus.OPEN, TaskStatus.EXPIRED) for f in _POSTED},
    **{(Action.LAPSE_CLAIM, f): (TaskStatus.ASSIGNED, TaskStatus.OPEN) for f in _POSTED},
    (Action.APPROVE, REVIEWED): (TaskStatus.SUBMITTED, TaskStatus.COMPLETED),
    (Action.AUTO_APPROVE, REVIEWED): (TaskStatus.SUBMITTED, TaskStatus.COMPLETED),
    (Action.REJECT, REVIEWED): (TaskStatus.SUBMITTED, TaskStatus.DISPUTED),
    (Action.RESOLVE, REVIEWED): (TaskStatus.DISPUTED, TaskStatus.COMPLETED),
    **{(Action.RATE, f): (TaskStatus.COMPLETED, TaskStatus.COMPLETED) for f in (*_POSTED, DIRECT)},
    (Action.SUCCEED, DIRECT): (TaskStatus.ASSIGNED, TaskStatus.COMPLETED),
    (Action.FAIL, DIRECT): (TaskStatus.ASSIGNED, TaskStatus.FAILED),
}

#: The other status an action may lead to, decided by its facts: a resolution that pays the
#: worker nothing refunds the task (:func:`resolution_status`); a claim lapsing past the
#: deadline expires it.
ALTERNATIVE: dict[Action, TaskStatus] = {
    Action.RESOLVE: TaskStatus.REFUNDED,
    Action.LAPSE_CLAIM: TaskStatus.EXPIRED,
}

#: States in which the task's escrow holds its whole budget.
ESCROWED = frozenset({TaskStatus.OPEN, TaskStatus.ASSIGNED, TaskStatus.SUBMITTED, TaskStatus.DISPUTED})

#: The timer each status runs on a posted task, which a sweep acts on when it lapses.
TIMED: dict[TaskStatus, Action] = {
    TaskStatus.OPEN: Action.EXPIRE,
    TaskStatus.ASSIGNED: Action.LAPSE_CLAIM,
    TaskStatus.SUBMITTED: Action.AUTO_APPROVE,
}

#: The task field holding the time that timer lapses at.
TIMER_FIELDS: dict[str, str] = {
    TaskStatus.OPEN: "deadline",
    TaskStatus.ASSIGNED: "claim_expires_at",
    TaskStatus.SUBMITTED: "review_ends_at",
}

#: A dispute settled with less than this share for the worker counts as lost by the worker.
DISPUTE_LOST_BELOW = 50


def flow(kind: str, review_hours: int) -> str:
    """The flow a task follows: ``direct`` for hires, ``reviewed`` with a review window, else ``market``."""
    if kind == DIRECT:
        return DIRECT
    return REVIEWED if review_hours > 0 else MARKET


def transition(action: Action, flow_: str, status: str) -> TaskStatus:
    """The status ``action`` leads to from ``status`` on a task of this flow.

    Raises:
        InvalidState: the action is not allowed from this status (or in this flow).
    """
    rule = TRANSITIONS.get((action, flow_))
    if rule is None:
        raise InvalidState(f"{_FLOW_NAMES[flow_]} cannot be {_past(action)}")
    needed, after = rule
    if status != needed:
        raise InvalidState(f"task is {status}; only {needed} tasks can be {_past(action)}")
    return after


class Role(StrEnum):
    """Who may take an action on a task."""

    POSTER = "poster"
    ASSIGNEE = "assignee"
    NOT_POSTER = "not_poster"  # any agent but the poster
    EVALUATOR = "evaluator"  # the task's evaluator, or the market's operator
    MARKET = "market"  # the market itself (settling a direct execution, a lapsed timer)


#: action -> (who may take it, whether that is checked before the state). The seed answers
#: a stranger's cancel or rate with 403 whatever the state, and the others with 409 first.
ROLES: dict[Action, tuple[Role, bool]] = {
    Action.ACCEPT: (Role.NOT_POSTER, False),
    Action.COMPLETE: (Role.ASSIGNEE, False),
    Action.CANCEL: (Role.POSTER, True),
    Action.RELEASE: (Role.ASSIGNEE, False),
    Action.RATE: (Role.POSTER, True),
    Action.APPROVE: (Role.POSTER, True),
    Action.REJECT: (Role.POSTER, True),
    Action.RESOLVE: (Role.EVALUATOR, True),
    Action.EXPIRE: (Role.MARKET, False),
    Action.LAPSE_CLAIM: (Role.MARKET, False),
    Action.AUTO_APPROVE: (Role.MARKET, False),
    Action.SUCCEED: (Role.MARKET, False),
    Action.FAIL: (Role.MARKET, False),
}

#: The actor the market's operator acts as (``agentmarket disputes resolve`` on a local file).
OPERATOR = "operator"


def authorize(action: Action, flow_: str, status: str, actor: str | None, poster_id: str,
              assigned_to: str | None, evaluator_id: str | None = None) -> TaskStatus:
    """The status ``action`` by ``actor`` leads to: :func:`transition` plus the role check, in the rule's order.

    Args:
        actor: the agent acting; None for the market itself; :data:`OPERATOR` for its operator.

    Raises:
        InvalidState; NotPoster, NotAssignee, NotEvaluator or OwnTask (403) when ``actor`` may not act.
    """
    role, role_first = ROLES[action]
    if role_first:
        _check_role(action, role, actor, poster_id, assigned_to, evaluator_id)
    after = transition(action, flow_, status)
    if not role_first:
        _check_role(action, role, actor, poster_id, assigned_to, evaluator_id)
    return after


def may(action: Action, flow_: str, status: str, actor: str | None, poster_id: str, assigned_to: str | None,
        evaluator_id: str | None = None) -> bool:
    """Whether ``actor`` may take ``action`` now (what the terminal app offers)."""
    try:
        authorize(action, flow_, status, actor, poster_id, assigned_to, evaluator_id)
    except (InvalidState, NotPoster, NotAssignee, NotEvaluator, OwnTask):
        return False
    return True


def _check_role(action: Action, role: Role, actor: str | None, poster_id: str, assigned_to: str | None,
                evaluator_id: str | None) -> None:
    if role is Role.POSTER and actor != poster_id:
        raise NotPoster(f"only the poster can {action.value} a task")
    if role is Role.ASSIGNEE and actor != assigned_to:
        raise NotAssignee(f"only the agent the task is assigned to can {action.value} it")
    if role is Role.NOT_POSTER and actor == poster_id:
        raise OwnTask("an agent cannot accept its own task")
    if role is Role.EVALUATOR and actor != OPERATOR and (evaluator_id is None or actor != evaluator_id):
        raise NotEvaluator("only the task's evaluator (or the market's operator) can resolve its dispute")
    if role is Role.MARKET and actor not in (None, OPERATOR):
        raise InvalidState(f"only the market itself can {action.value} a task")


def allowed_actions(flow_: str, status: str) -> list[Action]:
    """The actions that the status allows, whoever asks (roles are checked elsewhere)."""
    return [a for (a, f), (needed, _) in TRANSITIONS.items() if f == flow_ and needed == status]


def resolution_status(worker_pay: int) -> TaskStatus:
    """A settled dispute's status: completed when the worker's share ``p`` is over 0, else refunded."""
    return TaskStatus.COMPLETED if worker_pay > 0 else TaskStatus.REFUNDED


_FLOW_NAMES = {MARKET: "a market task", REVIEWED: "a reviewed task", DIRECT: "a directly hired task"}


def _past(action: Action) -> str:
    return {
        Action.ACCEPT: "accepted",
        Action.COMPLETE: "completed",
        Action.CANCEL: "cancelled",
        Action.RELEASE: "released",
        Action.RATE: "rated",
        Action.APPROVE: "approved",
        Action.REJECT: "rejected",
        Action.RESOLVE: "resolved",
        Action.EXPIRE: "expired",
        Action.LAPSE_CLAIM: "taken back",
        Action.AUTO_APPROVE: "approved",
        Action.SUCCEED: "completed",
        Action.FAIL: "failed",
    }[action]
