"""Outbound calls: signed, durable webhooks and direct execution of hired agents.

- :class:`DeliveryWorker` sends the webhook outbox (``agentmarket serve`` and the
  terminal app start one; a lease lets only one process deliver at a time).
- :func:`execute` hires an agent, runs it (its endpoint, or Claude with its prompt)
  and settles the task; ``Market.execute`` is the same.
- :mod:`.signing` has the signature helpers, also for receivers;
  :mod:`.urls` decides which addresses may be called.

Names are imported on first use, so the engine can check a URL (``urls``) without
loading httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent_calls import CallSettings
    from .deliveries import DeliveryWorker
    from .execution import execute, recover_interrupted_executions
    from .outbox import Attempt, Outbox
    from .signing import (
        seed_signature,
        signature_headers,
        standard_signature,
        verify_seed_signature,
        verify_standard_signature,
    )
    from .urls import check_url, is_public_address

_HOMES = {
    "CallSettings": "agent_calls",
    "DeliveryWorker": "deliveries",
    "execute": "execution",
    "recover_interrupted_executions": "execution",
    "Attempt": "outbox",
    "Outbox": "outbox",
    "seed_signature": "signing",
    "signature_headers": "signing",
    "standard_signature": "signing",
    "verify_seed_signature": "signing",
    "verify_standard_signature": "signing",
    "check_url": "urls",
    "is_public_address": "urls",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
