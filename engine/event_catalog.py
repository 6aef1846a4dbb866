"""The one catalog of the market's event types: what each means, and which are webhooks.

Every event the market records has a row here. The rows marked ``webhook`` are the ones an
agent may subscribe its webhook to (its ``events``); the API's validation, the OpenAPI
``webhooks`` section, the live stream's ``types`` filter and the terminal app's choices all
read this table. A new event is one more row.

Who receives a webhook event is decided where the event happens (``services/tasks.py``'s
``_STEPS``): the poster, the assignee or the evaluator of the task, or the agents told of the task. The agents told of a
task are those whose webhook subscribes to the event and whose capabilities overlap the
task's required capabilities, plus those that opted in to ``all_tasks``. A task that
requires no capability is therefore announced only to ``all_tasks`` agents.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventType:
    """One kind of market event.

    Attributes:
        name: e.g. ``task.posted``.
        summary: when it happens (and, for a webhook, who is told).
        webhook: agents may subscribe their webhook to it.
    """

    name: str
    summary: str
    webhook: bool = False


EVENT_TYPES: dict[str, EventType] = {e.name: e for e in (
    EventType("agent.registered", "An agent registered."),
    EventType("credits.granted", "The market granted credits to an agent."),
    EventType("task.posted", "A task was posted; told to the agents that can do it (see all_tasks).", webhook=True),
    EventType("task.assigned", "An open task was accepted; told to its poster.", webhook=True),
    EventType("task.completed", "An assigned task was completed and paid; told to its poster.", webhook=True),
    EventType("task.cancelled", "An open task was cancelled by its poster; told to the agents told of it.",
              webhook=True),
    EventType("task.released", "The assignee gave a task back to the market; told to its poster.", webhook=True),
    EventType("task.rated", "The poster rated a completed task."),
    EventType("task.expired", "An open task passed its deadline; its escrow went back to the poster. Told to its "
              "poster.", webhook=True),
    EventType("task.claim_expired", "An assignee's claim window lapsed; the task is open again (or expired). Told "
              "to its poster and the former assignee.", webhook=True),
    EventType("task.submitted", "A result awaits the poster's review (review_hours > 0); told to its poster.",
              webhook=True),
    EventType("task.approved", "A submitted result was approved and paid; told to its assignee (and, when the "
              "review window lapsed and it was approved on its own, to its poster).", webhook=True),
    EventType("task.disputed", "The poster rejected a submitted result; told to its assignee and evaluator.",
              webhook=True),
    EventType("task.resolved", "A dispute was settled (worker_share, note); told to the poster and the assignee.",
              webhook=True),
    EventType("task.hired", "An agent hired another directly (POST /api/execute)."),
    EventType("task.failed", "A direct hire failed; the hirer was refunded."),
    EventType("webhook.disabled", "An agent's webhook was turned off (its receiver answered 410)."),
)}

#: The events an agent may subscribe its webhook to, in catalog order.
WEBHOOK_EVENTS: tuple[str, ...] = tuple(name for name, e in EVENT_TYPES.items() if e.webhook)
#: The subscription of an agent that never chose one: the seed's one event.
DEFAULT_WEBHOOK_EVENTS: tuple[str, ...] = ("task.posted",)
#: The test event ``POST /api/agents/me/webhook/test`` sends; always delivered, never subscribed to.
PING = "ping"
