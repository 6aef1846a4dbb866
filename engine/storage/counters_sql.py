"""SQLite: counters of tasks, agents and wallet transfers (:class:`~.repositories.CounterRepository`).

Table ``counters`` holds one row per (kind, key, status): how many tasks are in each status
(``tasks``), per required capability (``capability``), per poster (``poster``), per
assignee (``assignee``), per agent as poster or assignee (``involving``); how many agents
there are (``agents``), per capability (``agent_capability``) and with a webhook URL
(``webhooks``); how many transfers touched each wallet (``transfers``); and the credits held
by each kind of account (``credits``: a sum of balances, not a count). Sums for the wallet
view (migration 13): per wallet and kind of transfer, the credits of its payouts, escrows
and refunds (``wallet_sum``); per poster, the credits that left its tasks' escrows
(``escrow_released``). Triggers (schema migrations 9, 13 and 15) keep them in the same statement
as every change of those tables, so no code path can change a task without its counters;
statuses are counted by the column's value, so a new status needs nothing here.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

from .. import ledger_accounts as acct
from . import _sql
from ._accounts import KINDS, is_escrow


def recount(wallet_agents: str, more: str = "", account_kind: str = "kind") -> str:
    """What the counters should hold, counted from the tables themselves in one statement, as
    the migrations that add counters fill them (``verify_counters`` counts with
    :func:`recounted`, which does not sort every row into one temp b-tree), given the
    SELECT of the agent each wallet transfer touched, as column ``agent`` (its column changed
    in migration 17), ``more`` rows (kind, key, status, n) UNION ALL-ed to them (counters added
    later) and the SQL of an account's kind (a column until migration 21, then of its key)."""
    return (
        "SELECT kind, key, status, SUM(n) AS n FROM ("
        f" SELECT 'credits' AS kind, {account_kind} AS key, '' AS status, balance AS n FROM accounts"
        " UNION ALL SELECT 'tasks', '', status, 1 FROM tasks"
        " UNION ALL SELECT 'poster', poster_id, status, 1 FROM tasks"
        " UNION ALL SELECT 'assignee', assigned_to, status, 1 FROM tasks WHERE assigned_to IS NOT NULL"
        " UNION ALL SELECT 'involving', poster_id, status, 1 FROM tasks"
        " UNION ALL SELECT 'involving', assigned_to, status, 1 FROM tasks"
        "  WHERE assigned_to IS NOT NULL AND assigned_to != poster_id"
        " UNION ALL SELECT 'capability', c.capability, t.status, 1 FROM task_capabilities c"
        "  JOIN tasks t ON t.rowid = c.task_rowid"
        " UNION ALL SELECT 'agents', '', '', 1 FROM agents"
        " UNION ALL SELECT 'agent_capability', capability, '', 1 FROM agent_capabilities"
        " UNION ALL SELECT 'webhooks', '', '', 1 FROM agents WHERE webhook_url IS NOT NULL"
        f" UNION ALL SELECT 'transfers', agent, '', 1 FROM ({wallet_agents}) AS wallets"
        f"{more}) AS counted GROUP BY kind, key, status"
    )


def recounted(conn: sqlite3.Connection) -> Counter[tuple[str, str, str]]:
    """What every counter should hold, (kind, key, status) -> n, counted from the tables themselves.

    As :func:`recount` counts, but in a few statements that each read a table once (the one
    statement put every task five times and every transfer three times into one temp b-tree:
    143 s at 1 M tasks here): the tasks' (poster, assignee, status) counted in Python (a few
    hundred distinct), each capability row's task status read from the status index, the
    transfers grouped by wallet (a scan: the wallet index would look up every row) and their
    escrows' releases by poster.
    """
    counts: Counter[tuple[str, str, str]] = Counter()
    sums = conn.execute("SELECT " + ", ".join(f"SUM(balance) FILTER (WHERE key % 4 = {code})"
                                               for code in range(len(KINDS))) + " FROM accounts").fetchone()
    counts.update({("credits", kind, ""): n for kind, n in zip(KINDS, sums) if n is not None})
    for (poster, assignee, status), n in Counter(_sql.tuples(
            conn, "SELECT poster_id, assigned_to, status FROM tasks")).items():
        counts["tasks", "", status] += n
        counts["poster", poster, status] += n
        counts["involving", poster, status] += n
        if assignee is not None:
            counts["assignee", assignee, status] += n
            if assignee != poster:
                counts["involving", assignee, status] += n
    # Each capability row counts in its task's status as the tasks table has it (not the copy
    # the row carries since migration 24): read by status from the status index, then the
    # capability rows once, without a lookup per row.
    top = conn.execute("SELECT MAX(rowid) FROM tasks").fetchone()[0] or 0
    status_of: list[str | None] = [None] * (top + 1)
    for (status,) in conn.execute("SELECT DISTINCT status FROM tasks").fetchall():
        for (rowid,) in _sql.tuples(conn, "SELECT rowid FROM tasks WHERE status = ?", (status,)):
            status_of[rowid] = status
    counts.update(("capability", capability, status_of[rowid]) for capability, rowid in _sql.tuples(
        conn, f"SELECT capability, task_rowid FROM task_capabilities WHERE task_rowid BETWEEN 0 AND {top}")
        if status_of[rowid] is not None)
    agents, webhooks = conn.execute("SELECT COUNT(*), COUNT(webhook_url) FROM agents").fetchone()
    counts["agents", "", ""] += agents
    counts["webhooks", "", ""] += webhooks
    for capability, n in conn.execute("SELECT capability, COUNT(*) FROM agent_capabilities GROUP BY capability"):
        counts["agent_capability", capability, ""] += n
    # Grouped by +wallet, not through the wallet index: a scan and a sort of a handful of groups
    # beats a million lookups of the rows the index points at.
    agent_of = dict(conn.execute("SELECT rowid, id FROM agents").fetchall())
    kinds = (acct.PAYOUT, acct.ESCROW, acct.REFUND)
    for wallet, n, *moved in conn.execute(
            "SELECT +x.wallet AS agent, COUNT(*), " + ", ".join(f"SUM(x.amount) FILTER (WHERE x.kind = '{kind}')"
                                                              for kind in kinds)
            + " FROM transfers x WHERE +x.wallet IS NOT NULL GROUP BY agent"):
        if wallet in agent_of:
            counts["transfers", agent_of[wallet], ""] += n
            counts.update({("wallet_sum", agent_of[wallet], kind): m for kind, m in zip(kinds, moved) if m is not None})
    for poster, released in conn.execute(
            f"SELECT t.poster_id, SUM(x.amount) FROM transfers x JOIN tasks t ON t.rowid = x.from_account / 4"
            f" WHERE {is_escrow('x.from_account')} GROUP BY t.poster_id"):
        counts["escrow_released", poster, ""] += released
    return counts


def counter(conn: sqlite3.Connection, kind: str, key: str = "", status: str | None = None) -> int:
    """The counter of (kind, key, status), or its sum over every status when ``status`` is None."""
    if status is None:
        sql, args = "SELECT COALESCE(SUM(n), 0) FROM counters WHERE kind = ? AND key = ?", (kind, key)
    else:
        sql = "SELECT COALESCE(SUM(n), 0) FROM counters WHERE kind = ? AND key = ? AND status = ?"
        args = (kind, key, status)
    return conn.execute(sql, args).fetchone()[0]


class SQLiteCounters:
    """Reads of table ``counters``; the triggers write it."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, kind: str, key: str = "", status: str | None = None) -> int:
        return counter(self.conn, kind, key, status)

    def by_status(self, kind: str = "tasks", key: str = "") -> dict[str, int]:
        return {status: n for status, n in self.conn.execute(
            "SELECT status, n FROM counters WHERE kind = ? AND key = ? AND n != 0 ORDER BY status", (kind, key))}

    def mismatches(self) -> list[dict[str, Any]]:
        stored = {(kind, key, status): n for kind, key, status, n in self.conn.execute(
            "SELECT kind, key, status, n FROM counters")}
        expected = recounted(self.conn)
        found = []
        for kind, key, status in sorted(stored.keys() | expected.keys()):
            n, kept = expected.get((kind, key, status), 0), stored.get((kind, key, status), 0)
            if n != kept:
                found.append({"kind": kind, "key": key, "status": status, "recounted": n, "stored": kept})
                if len(found) == 100:
                    break
        return found
