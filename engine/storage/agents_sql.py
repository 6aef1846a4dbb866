"""SQLite: agents and their capabilities (:class:`~.repositories.AgentRepository`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from .. import fees
from ..validation import name_key
from ..errors import NameTaken
from ..queries import AgentOrder, AgentQuery
from ..event_catalog import DEFAULT_WEBHOOK_EVENTS
from ..records import Agent, WebhookSettings
from . import _search, _sql
from .counters_sql import counter

_SORT: dict[AgentOrder, _sql.SortKey] = {
    AgentOrder.NEWEST: (("a.rowid", True),),
    # Unrated agents last, then by mean rating.
    AgentOrder.REPUTATION: (("(a.rating_count = 0)", False),
                            ("CAST(a.rating_sum AS REAL) / MAX(a.rating_count, 1)", True), ("a.rowid", True)),
    AgentOrder.PRICE: (("a.price_per_task", False), ("a.rowid", True)),
    AgentOrder.TASKS: (("a.total_tasks", True), ("a.rowid", True)),
    AgentOrder.NAME: (("a.name_key", False),),
}
_ALL = AgentQuery()
# In the order of Agent's fields, with rating_sum for the reputation (see _agent).
_COLUMNS = (
    "a.id, a.name, a.description, a.capabilities, a.price_per_task, a.owner_email, a.endpoint_url,"
    " a.system_prompt, a.webhook_url, a.rating_sum, a.rating_count, a.total_tasks, a.created_at,"
    " a.missed_claims, a.disputes_lost"
)


class SQLiteAgents:
    """Agents in table ``agents``; capabilities as a JSON list there and indexed in ``agent_capabilities``."""

    __slots__ = ("conn",)
    #: The WHERE condition of a text search (see ``_search.condition``).
    search_condition = staticmethod(_search.condition)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert(self, agent: Agent, *, api_key_hash: str, webhook_secret: str | None) -> None:
        try:
            self.conn.execute(
                "INSERT INTO agents (id, name, name_key, description, capabilities, price_per_task, owner_email,"
                " endpoint_url, system_prompt, webhook_url, webhook_secret, api_key_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (agent.id, agent.name, name_key(agent.name), agent.description, json.dumps(list(agent.capabilities)),
                 agent.price_per_task, agent.owner_email, agent.endpoint_url, agent.system_prompt, agent.webhook_url,
                 webhook_secret, api_key_hash, agent.created_at),
            )
        except sqlite3.IntegrityError as exc:
            if "name_key" in str(exc):
                raise NameTaken(f"an agent named {agent.name!r} already exists", field="name") from None
            raise
        self._index_capabilities(agent.id, agent.capabilities)

    def _index_capabilities(self, agent_id: str, capabilities: Sequence[str]) -> None:
        self.conn.execute("DELETE FROM agent_capabilities WHERE agent_id = ?", (agent_id,))
        self.conn.executemany(
            "INSERT INTO agent_capabilities (capability, agent_id) VALUES (?, ?)",
            [(c, agent_id) for c in capabilities],
        )

    def get(self, agent_id: str) -> Agent | None:
        return _agent(self.conn.execute(f"SELECT {_COLUMNS} FROM agents a WHERE a.id = ?", (agent_id,)).fetchone())

    def by_key_hash(self, key_hash: str) -> Agent | None:
        return _agent(self.conn.execute(f"SELECT {_COLUMNS} FROM agents a WHERE a.api_key_hash = ?", (key_hash,)).fetchone())

    def key_generation(self) -> int:
        return self.conn.execute("SELECT n FROM key_generation").fetchone()[0]

    def by_previous_key_hash(self, key_hash: str, now: float) -> Agent | None:
        return _agent(self.conn.execute(f"SELECT {_COLUMNS} FROM agents a WHERE a.previous_key_hash = ?"
                                        " AND a.previous_key_expires_at > ?", (key_hash, now)).fetchone())

    def id_by_name(self, name: str) -> str | None:
        row = self.conn.execute("SELECT id FROM agents WHERE name_key = ?", (name_key(name),)).fetchone()
        return None if row is None else row[0]

    def update(self, agent_id: str, changes: Mapping[str, Any]) -> None:
        columns = dict(changes)
        if "capabilities" in columns:
            columns["capabilities"] = json.dumps(list(changes["capabilities"]))
        if "name" in columns:
            columns["name_key"] = name_key(columns["name"])
        if columns:
            self.conn.execute(_sql.update("agents", tuple(columns)), (*columns.values(), agent_id))
        if "capabilities" in changes:
            self._index_capabilities(agent_id, changes["capabilities"])

    def set_key_hash(self, agent_id: str, key_hash: str, previous_expires_at: float) -> None:
        self.conn.execute("UPDATE agents SET previous_key_hash = api_key_hash, previous_key_expires_at = ?,"
                          " api_key_hash = ? WHERE id = ?", (previous_expires_at, key_hash, agent_id))

    def webhook_secret(self, agent_id: str) -> str | None:
        row = self.conn.execute("SELECT webhook_secret FROM agents WHERE id = ?", (agent_id,)).fetchone()
        return None if row is None else row[0]

    def set_webhook(self, agent_id: str, url: str | None, secret: str | None) -> None:
        self.conn.execute("UPDATE agents SET webhook_url = ?, webhook_secret = ? WHERE id = ?", (url, secret, agent_id))

    def webhook_settings(self, agent_id: str) -> WebhookSettings | None:
        row = self.conn.execute(
            "SELECT webhook_url, webhook_secret, webhook_events, webhook_all_tasks, webhook_previous_secret,"
            " webhook_previous_until FROM agents WHERE id = ?", (agent_id,)).fetchone()
        if row is None:
            return None
        return WebhookSettings(row[0], row[1], _subscription(row[2]), bool(row[3]), row[4], row[5])

    def set_webhook_choices(self, agent_id: str, events: Sequence[str], all_tasks: bool) -> None:
        self.conn.execute("UPDATE agents SET webhook_events = ?, webhook_all_tasks = ? WHERE id = ?",
                          (json.dumps(list(events)), int(all_tasks), agent_id))

    def set_webhook_secret(self, agent_id: str, secret: str, previous: str | None, previous_until: float | None) -> None:
        self.conn.execute(
            "UPDATE agents SET webhook_secret = ?, webhook_previous_secret = ?, webhook_previous_until = ?"
            " WHERE id = ?", (secret, previous, previous_until, agent_id))

    def subscribes(self, agent_id: str, event: str) -> bool:
        row = self.conn.execute("SELECT webhook_events FROM agents WHERE id = ? AND webhook_url IS NOT NULL",
                                (agent_id,)).fetchone()
        return row is not None and event in _subscription(row[0])

    def turn_webhook_off(self, agent_id: str, url: str) -> bool:
        return self.conn.execute(
            "UPDATE agents SET webhook_url = NULL WHERE id = ? AND webhook_url = ?", (agent_id, url)
        ).rowcount == 1

    def add_rating(self, agent_id: str, rating: int) -> None:
        self.conn.execute(
            "UPDATE agents SET rating_sum = rating_sum + ?, rating_count = rating_count + 1 WHERE id = ?",
            (rating, agent_id),
        )

    def count_completed(self, agent_id: str) -> None:
        self.conn.execute("UPDATE agents SET total_tasks = total_tasks + 1 WHERE id = ?", (agent_id,))

    def count_missed_claim(self, agent_id: str) -> None:
        self.conn.execute("UPDATE agents SET missed_claims = missed_claims + 1 WHERE id = ?", (agent_id,))

    def count_dispute_lost(self, agent_id: str) -> None:
        self.conn.execute("UPDATE agents SET disputes_lost = disputes_lost + 1 WHERE id = ?", (agent_id,))

    def list(self, query: AgentQuery) -> list[Agent]:
        return self.page(query, None)[0]

    def page(self, query: AgentQuery, after: tuple[Any, ...] | None) -> tuple[list[Agent], tuple[Any, ...] | None]:
        rows, last = _sql.keyset_page(self.conn, _COLUMNS, "agents a", _filter(query, self.search_condition),
                                      _SORT[query.order], query.limit, query.offset, after)
        return [a for a in map(_agent, rows) if a is not None], last

    def count(self, query: AgentQuery | None = None) -> tuple[int, bool]:
        query = query or _ALL
        if not query.search:
            if query.capability:
                return counter(self.conn, "agent_capability", query.capability), False
            return counter(self.conn, "agents"), False
        where, args = _filter(query, self.search_condition)
        return _sql.capped_count(self.conn, f"SELECT 1 FROM agents a{where}", args)

    def webhook_receivers(self, capabilities: Sequence[str], exclude_id: str, event: str) -> list[str]:
        if not counter(self.conn, "webhooks"):  # no agent has a webhook (one row, kept by triggers)
            return []
        # A plain join, deduplicated and ordered here: SQL's IN (subquery) and ORDER BY would
        # each build a temporary table on every post, for what is usually no rows at all.
        rows = self.conn.execute(_ALL_TASKS_RECEIVERS_SQL, (exclude_id,)).fetchall()
        if capabilities:
            rows += self.conn.execute(_receivers_sql(len(capabilities)), (exclude_id, *capabilities)).fetchall()
        if len(rows) > 1:
            rows = sorted({row[0]: row for row in rows}.values(), key=lambda row: row[0])
        return [row[1] for row in rows if event in _subscription(row[2])]


def _filter(query: AgentQuery, search: _search.Condition = _search.condition) -> tuple[str, list[Any]]:
    where, args = [], []
    if query.capability:
        where.append("a.id IN (SELECT agent_id FROM agent_capabilities WHERE capability = ?)")
        args.append(query.capability)
    if query.search:
        condition, more = search(query.search, "a", "agents_fts", ("name", "description"))
        where.append(condition)
        args += more
    return (" WHERE " + " AND ".join(where) if where else ""), args


@lru_cache(maxsize=32)
def _receivers_sql(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        "SELECT a.rowid, a.id, a.webhook_events FROM agent_capabilities c JOIN agents a ON a.id = c.agent_id"
        f" WHERE a.id != ? AND c.capability IN ({marks}) AND a.webhook_url IS NOT NULL"
    )


_ALL_TASKS_RECEIVERS_SQL = (
    "SELECT rowid, id, webhook_events FROM agents"
    " WHERE webhook_all_tasks = 1 AND webhook_url IS NOT NULL AND id != ?"
)


@lru_cache(maxsize=64)
def _subscription(stored: str | None) -> tuple[str, ...]:
    """The events an agent's webhook subscribes to, from its stored JSON (NULL: the default)."""
    return DEFAULT_WEBHOOK_EVENTS if stored is None else tuple(json.loads(stored))


def _agent(row: sqlite3.Row | None) -> Agent | None:
    if row is None:
        return None
    # The columns come in Agent's field order, rating_sum standing where reputation_score goes.
    return Agent(*row[:3], tuple(json.loads(row[3])), *row[4:9], fees.reputation(row[9], row[10]), *row[10:15])
