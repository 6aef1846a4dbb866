"""The task state machine (SPEC §3): the one place that says which action is allowed when.

```
open --accept--> assigned --complete--> completed --rate--> (rated)
open --cancel (poster)--> cancelled
assigned --release (assignee)--> open
direct execution: assigned (to the hired agent) --> completed | failed (refunded)
```
"""

from __future__ import annotations

from enum import StrEnum

from .errors import InvalidState, NotAssignee, NotPoster, OwnTask


class TaskStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Action(StrEnum):
    ACCEPT = "accept"
    COMPLETE = "complete"
    CANCEL = "cancel"
    RELEASE = "release"
    RATE = "rate"
    SUCCEED = "succeed"  # a direct execution returned a result
    FAIL = "fail"  # a direct execution failed


#: (action, kind of task) -> (status it needs, status it leads to)
_MARKET, _DIRECT = "market", "direct"
TRANSITIONS: dict[tuple[Action, str], tuple[TaskStatus, TaskStatus]] = {
    (Action.ACCEPT, _MARKET): (TaskStatus.OPEN, TaskStatus.ASSIGNED),
    (Action.COMPLETE, _MARKET): (TaskStatus.ASSIGNED, TaskStatus.COMPLETED),
    (Action.CANCEL, _MARKET): (TaskStatus.OPEN, TaskStatus.CANCELLED),
    (Action.RELEASE, _MARKET): (TaskStatus.ASSIGNED, TaskStatus.OPEN),
    (Action.RATE, _MARKET): (TaskStatus.COMPLETED, TaskStatus.COMPLETED),
    (Action.RATE, _DIRECT): (TaskStatus.COMPLETED, TaskStatus.COMPLETED),
    (Action.SUCCEED, _DIRECT): (TaskStatus.ASSIGNED, TaskStatus.COMPLETED),
    (Action.FAIL, _DIRECT): (TaskStatus.ASSIGNED, TaskStatus.FAILED),
}

#: States in which the task's escrow holds its whole budget.
ESCROWED = frozenset({TaskStatus.OPEN, TaskStatus.ASSIGNED})


def transition(action: Action, kind: str, status: str) -> TaskStatus:
    """The status ``action`` leads to from ``status``.

    Raises:
        InvalidState: the action is not allowed from this status (or on this kind of task).
    """
    rule = TRANSITIONS.get((action, kind))
    if rule is None:
        raise InvalidState(f"a {'directly hired' if kind == _DIRECT else 'market'} task cannot be {_past(action)}")
    needed, after = rule
    if status != needed:
        raise InvalidState(f"task is {status}; only {needed} tasks can be {_past(action)}")
    return after


class Role(StrEnum):
    """Who may take an action on a task."""

    POSTER = "poster"
    ASSIGNEE = "assignee"
    NOT_POSTER = "not_poster"  # any agent but the poster
    MARKET = "market"  # the market itself (settling a direct execution)


#: action -> (who may take it, whether that is checked before the state). The seed answers
#: a stranger's cancel or rate with 403 whatever the state, and the others with 409 first.
ROLES: dict[Action, tuple[Role, bool]] = {
    Action.ACCEPT: (Role.NOT_POSTER, False),
    Action.COMPLETE: (Role.ASSIGNEE, False),
    Action.CANCEL: (Role.POSTER, True),
    Action.RELEASE: (Role.ASSIGNEE, False),
    Action.RATE: (Role.POSTER, True),
    Action.SUCCEED: (Role.MARKET, False),
    Action.FAIL: (Role.MARKET, False),
}


def authorize(action: Action, kind: str, status: str, actor: str | None, poster_id: str,
              assigned_to: str | None) -> TaskStatus:
    """The status ``action`` by ``actor`` leads to: :func:`transition` plus the role check, in the rule's order.

    Args:
        actor: the agent acting (None for the market itself).

    Raises:
        InvalidState; NotPoster, NotAssignee or OwnTask (403) when ``actor`` may not act.
    """
    role, role_first = ROLES[action]
    if role_first:
        _check_role(action, role, actor, poster_id, assigned_to)
    after = transition(action, kind, status)
    if not role_first:
        _check_role(action, role, actor, poster_id, assigned_to)
    return after


def _check_role(action: Action, role: Role, actor: str | None, poster_id: str, assigned_to: str | None) -> None:
    if role is Role.POSTER and actor != poster_id:
        raise NotPoster(f"only the poster can {action.value} a task")
    if role is Role.ASSIGNEE and actor != assigned_to:
        raise NotAssignee(f"only the agent the task is assigned to can {action.value} it")
    if role is Role.NOT_POSTER and actor == poster_id:
        raise OwnTask("an agent cannot accept its own task")


def allowed_actions(kind: str, status: str) -> list[Action]:
    """The actions that the status allows, whoever asks (roles are checked elsewhere)."""
    return [a for (a, k), (needed, _) in TRANSITIONS.items() if k == kind and needed == status]


def _past(action: Action) -> str:
    return {
        Action.ACCEPT: "accepted",
        Action.COMPLETE: "completed",
        Action.CANCEL: "cancelled",
        Action.RELEASE: "released",
        Action.RATE: "rated",
        Action.SUCCEED: "completed",
        Action.FAIL: "failed",
    }[action]
