"""The market's services, each one area, sharing one :class:`~.context.MarketContext`.

``engine.Market`` is the façade over them (``market.agents``, ``market.tasks``,
``market.hiring``, ``market.ledger``, ``market.outbox``, ``market.idempotency``, ``market.admission``,
``market.events_feed``). Services reach the database only through the repositories of
``engine.storage``, and never each other's private attributes.
"""

from .admission import AdmissionService, Origin
from .agents import AgentService
from .context import MarketContext, Settings
from .events import EventService
from .hiring import HireRunner, HiringService
from .idempotency import IdempotencyService
from .ledger import LedgerService
from .outbox import OutboxService
from .tasks import TaskService

__all__ = [
    "AdmissionService",
    "AgentService",
    "EventService",
    "HireRunner",
    "HiringService",
    "IdempotencyService",
    "LedgerService",
    "MarketContext",
    "Origin",
    "OutboxService",
    "Settings",
    "TaskService",
]
