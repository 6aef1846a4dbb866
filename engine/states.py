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

from .errors import InvalidState


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
