"""SQLite: the double-entry ledger (:class:`~.repositories.LedgerRepository`): accounts,
append-only transfers, and the queries behind its checks."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from .. import ledger_accounts as acct
from ..queries import TransactionQuery
from ..states import ESCROWED
from ..records import Transaction, WalletFigures
from . import _sql
from .counters_sql import counter

# A transfer is one INSERT: it reads both balances, refuses (inserts nothing) when the
# source cannot cover the amount (issuance may go negative), and records the balances
# after it. The trigger ``transfers_move_balances`` (schema) then moves the cached
# balances in the same statement, so a transfer row and its balance changes cannot part.
_TRANSFER = (
    "INSERT INTO transfers (from_account, to_account, amount, kind, task_id, wallet_agent, from_balance,"
    " to_balance, created_at, memo)"
    " SELECT f.id, t.id, ?3, ?4, ?5, ?6, f.balance - ?3, t.balance + ?3, ?7, ?8 FROM accounts f, accounts t"
    " WHERE f.id = ?1 AND t.id = ?2 AND (f.kind = 'issuance' OR f.balance >= ?3)"
)
_HISTORY: _sql.SortKey = (("id", True),)  # a wallet's history, newest first
_OPEN_ACCOUNT = "INSERT INTO accounts (id, kind, owner_id, balance) VALUES (?, ?, ?, 0)"


class SQLiteLedger:
    """Accounts (with cached balances) and transfers; the trigger keeps the two together."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def open_account(self, account_id: str, kind: str, owner_id: str | None) -> None:
        self.conn.execute(_OPEN_ACCOUNT, (account_id, kind, owner_id))

    def ensure_account(self, account_id: str, kind: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO accounts (id, kind, owner_id, balance) VALUES (?, ?, NULL, 0)", (account_id, kind)
        )

    def balance(self, account_id: str) -> int | None:
        row = self.conn.execute("SELECT balance FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return None if row is None else row[0]

    def transfer(self, source: str, target: str, amount: int, kind: str, task_id: str | None, at: str,
                 memo: str | None = None) -> bool:
        """Move ``amount`` from ``source`` to ``target`` as one recorded transfer (``memo``: why, if said).

        Returns:
            False, having changed nothing, when ``source`` is missing or holds less
            than ``amount``; True once the transfer is recorded.

        Raises:
            LookupError: ``target`` does not exist (a bug: the caller must roll back).
        """
        wallet_agent = acct.wallet_owner(source) or acct.wallet_owner(target)
        if self.conn.execute(_TRANSFER, (source, target, amount, kind, task_id, wallet_agent, at, memo)).rowcount:
            return True
        if self.balance(target) is None:
            raise LookupError(f"no such account: {target}")
        return False

    def transfer_split(self, source: str, parts: list[tuple[str, int, str]], task_id: str | None, at: str) -> bool:
        """Move credits from ``source`` to several targets, one recorded transfer per ``(target, amount, kind)``.

        The transfers are made in order; parts with amount 0 are skipped.

        Returns:
            False when ``source`` could not cover every part; earlier parts may have
            moved, so the caller must roll back.

        Raises:
            LookupError: a target does not exist (a bug: the caller must roll back).
        """
        rows = [
            (source, target, amount, kind, task_id, acct.wallet_owner(source) or acct.wallet_owner(target), at, None)
            for target, amount, kind in parts if amount
        ]
        if self.conn.executemany(_TRANSFER, rows).rowcount == len(rows):
            return True
        for target, _, _ in parts:
            if self.balance(target) is None:
                raise LookupError(f"no such account: {target}")
        return False

    def wallet_transactions(self, agent_id: str, limit: int, offset: int) -> list[Transaction]:
        return self.page(TransactionQuery(agent_id, limit, offset), None)[0]

    def page(self, query: TransactionQuery, after: tuple[Any, ...] | None) -> tuple[list[Transaction],
                                                                                    tuple[Any, ...] | None]:
        rows, last = _sql.keyset_page(self.conn, "*", "transfers", (" WHERE wallet_agent = ?", [query.agent_id]),
                                      _HISTORY, query.limit, query.offset, after)
        wallet = acct.wallet(query.agent_id)
        return [_transaction(r, wallet) for r in rows], last

    def count(self, query: TransactionQuery) -> tuple[int, bool]:
        return self.count_wallet_transactions(query.agent_id), False

    def count_wallet_transactions(self, agent_id: str) -> int:
        return counter(self.conn, "transfers", agent_id)

    def wallet_figures(self, agent_id: str) -> WalletFigures:
        # From the counters the transfers keep (migration 13), never a walk over the agent's history.
        sums = dict(self.conn.execute(
            "SELECT kind || ':' || status, n FROM counters WHERE kind IN ('wallet_sum', 'escrow_released')"
            " AND key = ?", (agent_id,)).fetchall())
        escrowed_ever = sums.get("wallet_sum:escrow", 0)
        return WalletFigures(escrowed=escrowed_ever - sums.get("escrow_released:", 0),
                             earned=sums.get("wallet_sum:payout", 0), escrowed_ever=escrowed_ever,
                             refunded=sums.get("wallet_sum:refund", 0))

    def totals(self) -> dict[str, int]:
        # The credits per kind of account, from the counters the transfers keep (no scan).
        totals = dict(self.conn.execute("SELECT key, n FROM counters WHERE kind = 'credits'").fetchall())
        totals["transfers"] = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM transfers").fetchone()[0]
        return totals

    # -- the invariants of SPEC §2, each a query for the rows that break it ----------
    def total(self) -> int:
        return self.conn.execute("SELECT COALESCE(SUM(balance), 0) FROM accounts").fetchone()[0]

    def negative_accounts(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            "SELECT id, kind, balance FROM accounts WHERE (kind = 'issuance' AND balance > 0)"
            " OR (kind != 'issuance' AND balance < 0) LIMIT 100"
        ))

    def escrow_mismatches(self, escrowed: Sequence[str]) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(escrowed))
        return _dicts(self.conn.execute(
            "SELECT t.id AS task_id, t.status, t.budget, COALESCE(a.balance, 0) AS escrow"
            " FROM tasks t LEFT JOIN accounts a ON a.id = 'escrow:' || t.id"
            f" WHERE COALESCE(a.balance, 0) != CASE WHEN t.status IN ({marks}) THEN t.budget ELSE 0 END"
            " LIMIT 100", tuple(escrowed),
        ))

    def escrow_flows(self, escrowed: Sequence[str]) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(escrowed))
        return _dicts(self.conn.execute(
            f"WITH {_ESCROW_MOVES}"
            " SELECT t.id AS task_id, t.status, t.budget, COALESCE(i.total, 0) AS moved_in,"
            "  COALESCE(i.times, 0) AS times_in, COALESCE(o.total, 0) AS moved_out"
            " FROM tasks t LEFT JOIN moved_in i ON i.account = 'escrow:' || t.id"
            " LEFT JOIN moved_out o ON o.account = 'escrow:' || t.id"
            " WHERE COALESCE(i.total, 0) != t.budget OR COALESCE(i.times, 0) != 1"
            f" OR COALESCE(o.total, 0) != CASE WHEN t.status IN ({marks}) THEN 0 ELSE t.budget END LIMIT 100",
            tuple(escrowed),
        ))

    def unbalanced_disputes(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            f"WITH {_ESCROW_MOVES}"
            " SELECT t.id AS task_id, t.budget, t.worker_share, t.budget * t.worker_share / 100 AS p,"
            "  COALESCE(o.paid, 0) AS paid, COALESCE(o.refunded, 0) AS refunded"
            " FROM tasks t LEFT JOIN moved_out o ON o.account = 'escrow:' || t.id"
            " WHERE t.worker_share IS NOT NULL AND (COALESCE(o.paid, 0) != t.budget * t.worker_share / 100"
            "  OR COALESCE(o.refunded, 0) != t.budget - t.budget * t.worker_share / 100) LIMIT 100"
        ))

    def stray_escrows(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            # The task's id is the account id after 'escrow:': comparing t.id itself (not an
            # expression over it) lets SQLite look it up in the primary key instead of
            # scanning every task for every escrow.
            "SELECT a.id, a.balance FROM accounts a WHERE a.kind = 'escrow' AND a.balance != 0"
            f" AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = substr(a.id, {len(acct.escrow('')) + 1})) LIMIT 100"
        ))

    def cached_balance_mismatches(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            "WITH moved AS ("
            "  SELECT account, SUM(delta) AS total FROM ("
            "   SELECT to_account AS account, amount AS delta FROM transfers"
            "   UNION ALL SELECT from_account, -amount FROM transfers)"
            "  GROUP BY account)"
            " SELECT a.id, a.balance AS cached, COALESCE(m.total, 0) AS from_transfers"
            " FROM accounts a LEFT JOIN moved m ON m.account = a.id"
            " WHERE a.balance != COALESCE(m.total, 0) LIMIT 100"
        ))

    def wallets_without_agents(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            "SELECT a.id FROM accounts a WHERE a.kind = 'wallet'"
            f" AND NOT EXISTS (SELECT 1 FROM agents g WHERE g.id = substr(a.id, {len(acct.wallet('')) + 1})) LIMIT 100"
        ))


# Per escrow account, in one pass over the transfers: credits in (and how many times), and out
# (all of it; to the worker and the platform; back to the poster).
_ESCROW_MOVES = (
    "moved_in AS (SELECT to_account AS account, SUM(amount) AS total, count(*) AS times FROM transfers"
    "  WHERE to_account LIKE 'escrow:%' GROUP BY to_account),"
    " moved_out AS (SELECT from_account AS account, SUM(amount) AS total,"
    "  SUM(CASE WHEN kind IN ('payout', 'fee') THEN amount ELSE 0 END) AS paid,"
    "  SUM(CASE WHEN kind = 'refund' THEN amount ELSE 0 END) AS refunded FROM transfers"
    "  WHERE from_account LIKE 'escrow:%' GROUP BY from_account)"
)
_ESCROWED_SQL = ", ".join(f"'{s.value}'" for s in sorted(ESCROWED))


def _transaction(row: sqlite3.Row, wallet: str) -> Transaction:
    outgoing = row["from_account"] == wallet
    return Transaction(
        id=row["id"],
        kind=row["kind"],
        amount=-row["amount"] if outgoing else row["amount"],
        balance_after=row["from_balance"] if outgoing else row["to_balance"],
        task_id=row["task_id"],
        counterparty=row["to_account"] if outgoing else row["from_account"],
        created_at=row["created_at"],
        memo=row["memo"],
    )


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    return [dict(r) for r in cursor]
