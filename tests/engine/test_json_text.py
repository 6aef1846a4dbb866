"""The JSON text a list answers is written without dicts (``views.tasks_json``, ``json_text``): it
must be, byte for byte, what ``json`` makes of ``views.task``'s dicts, for every value a task can hold."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import views
from engine.json_text import Json, members_writer
from engine.records import Task, Transaction
from engine.states import TaskStatus


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)))  # any text but lone surrogates (never stored)
MAYBE_TEXT = st.none() | TEXT
MAYBE_INT = st.none() | st.integers(-(2**63), 2**63)
IDS = st.sampled_from(["agent-a", "agent-b", "agent-c"])
TASKS = st.builds(
    Task, id=TEXT, title=TEXT, description=TEXT, budget=st.integers(0, 2**53),
    required_capabilities=st.lists(TEXT, max_size=4).map(tuple), status=st.sampled_from([s.value for s in TaskStatus]),
    kind=TEXT, poster_id=IDS, assigned_to=st.none() | IDS, result=MAYBE_TEXT, rating=MAYBE_INT,
    escrow=st.integers(0, 2**53), created_at=TEXT, updated_at=TEXT, deadline=MAYBE_TEXT, claim_seconds=st.integers(),
    review_hours=st.integers(), evaluator_id=st.none() | IDS, claim_expires_at=MAYBE_TEXT, submitted_at=MAYBE_TEXT,
    review_ends_at=MAYBE_TEXT, dispute_reason=MAYBE_TEXT, worker_share=MAYBE_INT, resolution_note=MAYBE_TEXT)


@given(st.lists(TASKS, max_size=4), st.none() | IDS)
def test_a_list_of_tasks_is_written_as_json_writes_their_views(tasks: list[Task], viewer: str | None) -> None:
    written = views.tasks_json(tasks, viewer)
    assert isinstance(written, Json)
    assert written == _json([views.task(t, viewer) for t in tasks])


@given(st.lists(st.builds(Transaction, id=st.integers(1, 2**63), kind=TEXT, amount=st.integers(-(2**53), 2**53),
                          balance_after=st.integers(0, 2**53), task_id=MAYBE_TEXT, counterparty=TEXT, created_at=TEXT,
                          memo=MAYBE_TEXT), max_size=4))
def test_a_list_of_transactions_is_written_as_json_writes_their_views(transactions: list[Transaction]) -> None:
    assert views.transactions_json(transactions) == _json([views.transaction(t) for t in transactions])


def test_hostile_text_is_escaped_as_json_escapes_it() -> None:
    text = 'q"uote \\ back\nslash\t\x00\x1f\x7f é 漢字 \u2028 😀 </script>'
    task = Task(text, text, text, 1, (text,), "disputed", "market", "agent-a", "agent-b", text, 5, 1, text, text,
                text, 1, 2, "agent-c", text, text, text, text, 40, text)
    for viewer in (None, "agent-a", "agent-b", "agent-c", "agent-d"):
        assert views.tasks_json([task], viewer) == _json([views.task(task, viewer)])
    assert json.loads(views.tasks_json([task], "agent-a"))[0]["dispute"] == {"reason": text, "worker_share": 40,
                                                                              "note": text}


def test_a_member_of_a_type_it_cannot_write_is_refused_when_the_writer_is_made() -> None:
    @dataclass
    class Priced:
        price: float

    with pytest.raises(TypeError, match="Priced.price"):
        members_writer(Priced, ("price",))
