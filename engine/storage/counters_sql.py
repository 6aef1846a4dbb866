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
from typing import Any

from ._accounts import is_escrow, kind_of

def recount(wallet_agents: str, more: str = "", account_kind: str = "kind") -> str:
    """What the counters should hold, counted from the tables themselves (the migration of
    the counters fills them from it, ``verify_counters`` compares against it), given the
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


#: The wallet view's sums, recounted (migration 13 fills them, from the columns of its day).
WALLET_SUMS = (
    " SELECT 'wallet_sum' AS kind, g.id AS key, x.kind AS status, x.amount AS n FROM transfers x"
    "  JOIN agents g ON g.rowid = x.wallet WHERE x.kind IN ('payout', 'escrow', 'refund')"
    " UNION ALL SELECT 'escrow_released', t.poster_id, '', x.amount FROM transfers x"
    f"  JOIN tasks t ON t.rowid = x.from_account / 4 WHERE {is_escrow('x.from_account')}"
)
RECOUNT = recount("SELECT g.id AS agent FROM transfers x JOIN agents g ON g.rowid = x.wallet", " UNION ALL" + WALLET_SUMS,
                  kind_of("key"))
_MISMATCHES = (
    f"WITH expected AS MATERIALIZED ({RECOUNT})"
    " SELECT e.kind, e.key, e.status, e.n AS recounted, COALESCE(c.n, 0) AS stored FROM expected e"
    " LEFT JOIN counters c ON c.kind = e.kind AND c.key = e.key AND c.status = e.status"
    " WHERE COALESCE(c.n, 0) != e.n"
    " UNION ALL SELECT c.kind, c.key, c.status, 0, c.n FROM counters c WHERE c.n != 0 AND NOT EXISTS"
    " (SELECT 1 FROM expected e WHERE e.kind = c.kind AND e.key = c.key AND e.status = c.status)"
    " LIMIT 100"
)


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
        return [dict(r) for r in self.conn.execute(_MISMATCHES)]
