"""The event catalog (engine/event_catalog.py) names every event the market records or sends."""

from __future__ import annotations

import re
from pathlib import Path

from engine.event_catalog import DEFAULT_WEBHOOK_EVENTS, EVENT_TYPES, PING, WEBHOOK_EVENTS
from engine.services.tasks import _STEPS

ENGINE = Path(__file__).parents[2] / "engine"
#: An event type written as a literal where an event is recorded: events.add("type", ...).
_RECORDED = re.compile(r"events\.add\(\s*\"([a-z_.]+)\"")


def test_every_event_recorded_in_the_engine_is_in_the_catalog() -> None:
    recorded = {name for path in ENGINE.rglob("*.py") for name in _RECORDED.findall(path.read_text())}
    assert recorded  # the pattern still finds the engine's events
    assert recorded <= set(EVENT_TYPES), recorded - set(EVENT_TYPES)


def test_every_task_change_event_is_in_the_catalog_and_those_sent_are_webhooks() -> None:
    assert {event for event, _, _ in _STEPS.values()} <= set(EVENT_TYPES)
    assert {event for event, audience, _ in _STEPS.values() if audience} <= set(WEBHOOK_EVENTS)


def test_the_default_subscription_is_the_seeds_one_event() -> None:
    assert DEFAULT_WEBHOOK_EVENTS == ("task.posted",) and set(DEFAULT_WEBHOOK_EVENTS) <= set(WEBHOOK_EVENTS)
    assert PING not in EVENT_TYPES  # a test delivery, never recorded nor subscribed to
