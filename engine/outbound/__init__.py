"""Outbound calls: signed, durable webhooks and direct execution of hired agents.

- :class:`DeliveryWorker` sends the webhook outbox (``agentmarket serve`` and the
  terminal app start one; a lease lets only one process deliver at a time).
- :func:`execute` hires an agent, runs it (its endpoint, or Claude with its prompt)
  and settles the task: the hire runner that ``engine.runtime`` hands the server.
- :mod:`.signing` has the signature helpers, also for receivers.

Outbound depends on the engine (its outbox service holds the deliveries as data, and
``engine.url_policy`` decides which addresses may be called); the engine never imports
this package. Names are imported on first use, so importing it does not load httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent_calls import CallSettings
    from .deliveries import DeliveryWorker
    from .execution import execute, recover_interrupted_executions
    from .signing import (
        seed_signature,
        signature_headers,
        standard_signature,
        verify_seed_signature,
        verify_standard_signature,
    )

_HOMES = {
    "CallSettings": "agent_calls",
    "DeliveryWorker": "deliveries",
    "execute": "execution",
    "recover_interrupted_executions": "execution",
    "seed_signature": "signing",
    "signature_headers": "signing",
    "standard_signature": "signing",
    "verify_seed_signature": "signing",
    "verify_standard_signature": "signing",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
