"""SQLite: the double-entry ledger (:class:`~.repositories.LedgerRepository`): accounts,
append-only transfers, and the queries behind its checks."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from .. import ledger_accounts as acct
from ..queries import TransactionQuery
from ..records import Transaction, WalletFigures
from . import _sql
from ._accounts import ISSUANCE_KEY, escrow_key, escrow_of, is_escrow, is_escrow_key, key_of, kind_of, name_of
from .counters_sql import counter

#: The task a transfer ``x`` belongs to: the one whose escrow it moved credits into or out of.
TRANSFER_TASK = (
    f"CASE WHEN {is_escrow('x.from_account')} THEN (SELECT id FROM tasks WHERE rowid = x.from_account / 4)"
    f" WHEN {is_escrow('x.to_account')} THEN (SELECT id FROM tasks WHERE rowid = x.to_account / 4) END"
)
# A transfer is one INSERT: it reads both balances, refuses (inserts nothing) when the
# source cannot cover the amount (issuance may go negative), and records the balances
# after it. The trigger ``transfers_move_balances`` (schema) then moves the cached
# balances in the same statement, so a transfer row and its balance changes cannot part.
# Stored compactly (schema migrations 17 and 20): both accounts and the wallet's agent (the
# wallet side's owner) as integers, the time as unix seconds; the task is the one whose
# escrow is on either side (TRANSFER_TASK).
_TRANSFER = (
    "INSERT INTO transfers (from_account, to_account, amount, kind, wallet, from_balance, to_balance, at, memo)"
    " SELECT f.key, t.key, ?3, ?4, CASE 0 WHEN f.key % 4 THEN f.key / 4 WHEN t.key % 4 THEN t.key / 4 END,"
    " f.balance - ?3, t.balance + ?3, unixepoch(?5), ?6 FROM accounts f, accounts t"
    f" WHERE f.key = {key_of('?1')} AND t.key = {key_of('?2')} AND (f.key = {ISSUANCE_KEY} OR f.balance >= ?3)"
)
_HISTORY_COLUMNS = (
    f"x.id, {name_of('x.from_account')} AS from_account, {name_of('x.to_account')} AS to_account, x.amount,"
    f" x.kind, {TRANSFER_TASK} AS task_id, x.from_balance,"
    " x.to_balance, strftime('%Y-%m-%dT%H:%M:%SZ', x.at, 'unixepoch') AS created_at, x.memo"
)
_HISTORY: _sql.SortKey = (("x.id", True),)  # a wallet's history, newest first
_WALLET = "x.wallet = (SELECT rowid FROM agents WHERE id = ?)"
# NULL (an owner that does not exist) would draw a fresh rowid: opened only for a real owner.
_OPEN_ACCOUNT = (f"INSERT INTO accounts (key, balance) SELECT key, 0 FROM (SELECT {key_of('?1')} AS key) AS owned"
                 " WHERE key IS NOT NULL")
_ENSURE_ACCOUNT = f"INSERT OR IGNORE INTO accounts (key, balance) VALUES ({key_of('?1')}, 0)"
_BALANCE = f"SELECT balance FROM accounts WHERE key = {key_of('?1')}"


class SQLiteLedger:
    """Accounts (with cached balances) and transfers; the trigger keeps the two together."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def open_account(self, account_id: str) -> None:
        if not self.conn.execute(_OPEN_ACCOUNT, (account_id,)).rowcount:
            raise LookupError(f"no owner for account {account_id}")

    def ensure_account(self, account_id: str) -> None:
        self.conn.execute(_ENSURE_ACCOUNT, (account_id,))

    def balance(self, account_id: str) -> int | None:
        row = self.conn.execute(_BALANCE, (account_id,)).fetchone()
        return None if row is None else row[0]

    def transfer(self, source: str, target: str, amount: int, kind: str, task_id: str | None, at: str,
                 memo: str | None = None) -> bool:
        """Move ``amount`` from ``source`` to ``target`` as one recorded transfer (``memo``: why, if said).

        Returns:
            False, having changed nothing, when ``source`` is missing or holds less
            than ``amount``; True once the transfer is recorded.

        Raises:
            LookupError: ``target`` does not exist (a bug: the caller must roll back).
            ValueError: ``task_id`` is not the task whose escrow is ``source`` or ``target`` (a bug:
                the task of a transfer is stored as that escrow, see TRANSFER_TASK).
        """
        _check_task(task_id, source, target)
        if self.conn.execute(_TRANSFER, (source, target, amount, kind, at, memo)).rowcount:
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
            ValueError: ``task_id`` is not the task whose escrow is ``source`` (see :meth:`transfer`).
        """
        _check_task(task_id, source, source)
        rows = [(source, target, amount, kind, at, None) for target, amount, kind in parts if amount]
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
        rows, last = _sql.keyset_page(self.conn, _HISTORY_COLUMNS, "transfers x", (f" WHERE {_WALLET}", [query.agent_id]),
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
            f"SELECT {name_of('key')} AS id, {kind_of('key')} AS kind, balance FROM accounts"
            " WHERE (key % 4 = 3 AND balance > 0) OR (key % 4 != 3 AND balance < 0) LIMIT 100"
        ))

    def escrow_mismatches(self, escrowed: Sequence[str]) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(escrowed))
        return _dicts(self.conn.execute(
            "SELECT t.id AS task_id, t.status, t.budget, COALESCE(a.balance, 0) AS escrow"
            f" FROM tasks t LEFT JOIN accounts a ON a.key = {escrow_key('t.rowid')}"
            f" WHERE COALESCE(a.balance, 0) != CASE WHEN t.status IN ({marks}) THEN t.budget ELSE 0 END"
            " LIMIT 100", tuple(escrowed),
        ))

    # The checks over every transfer stream them once each, summing per account in a dict: a
    # GROUP BY over a million escrows sorted them on disk (70 s for the flows at 1 M tasks here).
    def escrow_flows(self, escrowed: Sequence[str]) -> list[dict[str, Any]]:
        moved_in, moved_out = self._escrow_moves()
        held, found = frozenset(escrowed), []
        for rowid, task_id, status, budget in self.conn.execute("SELECT rowid, id, status, budget FROM tasks"):
            key = escrow_of(rowid)
            total_in, times_in = moved_in.get(key, (0, 0))
            total_out = moved_out.get(key, 0)
            if total_in != budget or times_in != 1 or total_out != (0 if status in held else budget):
                found.append({"task_id": task_id, "status": status, "budget": budget, "moved_in": total_in,
                              "times_in": times_in, "moved_out": total_out})
                if len(found) == _LIMIT:
                    break
        return found

    def unbalanced_disputes(self) -> list[dict[str, Any]]:
        disputed = {escrow_of(rowid): (task_id, budget, share) for rowid, task_id, budget, share in self.conn.execute(
            "SELECT rowid, id, budget, worker_share FROM tasks WHERE worker_share IS NOT NULL")}
        paid = dict.fromkeys(disputed, 0)
        refunded = dict.fromkeys(disputed, 0)
        if disputed:  # else no pass over the transfers at all
            for source, amount, kind in self.conn.execute(
                    "SELECT from_account, amount, kind FROM transfers WHERE kind IN ('payout', 'fee', 'refund')"):
                if source in disputed:
                    (refunded if kind == "refund" else paid)[source] += amount
        found = []
        for key, (task_id, budget, share) in disputed.items():
            p = budget * share // 100
            if paid[key] != p or refunded[key] != budget - p:
                found.append({"task_id": task_id, "budget": budget, "worker_share": share, "p": p,
                              "paid": paid[key], "refunded": refunded[key]})
                if len(found) == _LIMIT:
                    break
        return found

    def _escrow_moves(self) -> tuple[dict[int, list[int]], dict[int, int]]:
        """Per escrow, in one pass over the transfers: [credits in, times in], and credits out."""
        moved_in: dict[int, list[int]] = {}
        moved_out: dict[int, int] = {}
        for source, target, amount in self.conn.execute("SELECT from_account, to_account, amount FROM transfers"):
            if is_escrow_key(target):
                into = moved_in.setdefault(target, [0, 0])
                into[0] += amount
                into[1] += 1
            if is_escrow_key(source):
                moved_out[source] = moved_out.get(source, 0) + amount
        return moved_in, moved_out

    def stray_escrows(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            f"SELECT a.key, a.balance FROM accounts a WHERE {is_escrow('a.key')} AND a.balance != 0"
            " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.rowid = a.key / 4) LIMIT 100"
        ))

    def cached_balance_mismatches(self) -> list[dict[str, Any]]:
        moved: dict[int, int] = {}
        for source, target, amount in self.conn.execute("SELECT from_account, to_account, amount FROM transfers"):
            moved[source] = moved.get(source, 0) - amount
            moved[target] = moved.get(target, 0) + amount
        found = []
        for key, balance in self.conn.execute("SELECT key, balance FROM accounts"):
            if balance != moved.get(key, 0):
                name = self.conn.execute(f"SELECT {name_of('?1')}", (key,)).fetchone()[0]
                found.append({"id": name, "cached": balance, "from_transfers": moved.get(key, 0)})
                if len(found) == _LIMIT:
                    break
        return found

    def wallets_without_agents(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            "SELECT a.key FROM accounts a WHERE a.key % 4 = 0"  # a wallet (storage/_accounts.py)
            " AND NOT EXISTS (SELECT 1 FROM agents g WHERE g.rowid = a.key / 4) LIMIT 100"
        ))


_LIMIT = 100  # offending rows a check reports at most


def _check_task(task_id: str | None, source: str, target: str) -> None:
    if task_id is not None and acct.escrow(task_id) not in (source, target):
        raise ValueError(f"a transfer of task {task_id} must move credits into or out of its escrow")


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
