"""SQLite: the double-entry ledger (:class:`~.repositories.LedgerRepository`): accounts,
append-only transfers, and the queries behind its checks."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from typing import Any

from .. import fees
from .. import ledger_accounts as acct
from ..queries import TransactionQuery
from ..records import LedgerAudit, Transaction, WalletFigures
from . import _sql
from ._accounts import ISSUANCE_KEY, escrow_key, escrow_of, is_escrow, key_of, kind_of, name_of
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

    def audit(self, escrowed: Sequence[str]) -> LedgerAudit:
        # One pass over each of transfers, accounts and tasks, the sums kept in Python lists
        # (SQLite's GROUP BY over a million accounts sorts them: 3-4 s at 1 M tasks here, and
        # a dict costs a third more than a list), at the slots of _Slots.
        slots = _Slots(self.conn)
        sent, received, times_in = [0] * slots.size, [0] * slots.size, [0] * slots.size
        moves = f"SELECT {slots.of('from_account')}, {slots.of('to_account')}, amount FROM transfers"
        for source, target, amount in _sql.tuples(self.conn, moves):
            sent[source] += amount
            received[target] += amount
            times_in[target] += 1
        balance: list[int | None] = [None] * slots.size
        cached = []
        for slot, key, held_now in _sql.tuples(self.conn, f"SELECT {slots.of('key')}, key, balance FROM accounts"):
            balance[slot] = held_now
            if held_now != received[slot] - sent[slot]:
                cached.append((key, held_now, received[slot] - sent[slot]))
        held, mismatched, flows = frozenset(escrowed), [], []
        # In any order (SQLite reads a covering index): the offending rows are sorted after.
        for rowid, status, budget in _sql.tuples(self.conn, "SELECT rowid, status, budget FROM tasks"):
            kept, escrow = (budget if status in held else 0), balance[rowid] or 0
            balance[rowid] = None  # its task seen: an escrow still holding credits after this has none
            if escrow != kept:
                mismatched.append((rowid, status, budget, escrow))
            if received[rowid] != budget or times_in[rowid] != 1 or sent[rowid] != budget - kept:
                flows.append((rowid, status, budget, received[rowid], times_in[rowid], sent[rowid]))
        return LedgerAudit(
            escrow_mismatches=tuple({"task_id": self._task_id(r), "status": s, "budget": b, "escrow": e}
                                    for r, s, b, e in sorted(mismatched)[:_LIMIT]),
            escrow_flows=tuple({"task_id": self._task_id(r), "status": s, "budget": b, "moved_in": i, "times_in": n,
                                "moved_out": o} for r, s, b, i, n, o in sorted(flows)[:_LIMIT]),
            cached_balances=tuple({"id": self.conn.execute(f"SELECT {name_of('?1')}", (key,)).fetchone()[0],
                                   "cached": b, "from_transfers": m} for key, b, m in sorted(cached)[:_LIMIT]),
            stray_escrows=tuple({"key": escrow_of(slot), "balance": balance[slot]}
                                for slot in itertools.islice(filter(balance.__getitem__, range(slots.escrows + 1)),
                                                             _LIMIT)))

    def _task_id(self, rowid: int) -> str:
        return self.conn.execute("SELECT id FROM tasks WHERE rowid = ?", (rowid,)).fetchone()[0]

    def unbalanced_disputes(self) -> list[dict[str, Any]]:
        disputed = {escrow_of(rowid): (task_id, budget, share) for rowid, task_id, budget, share in self.conn.execute(
            "SELECT rowid, id, budget, worker_share FROM tasks WHERE worker_share IS NOT NULL ORDER BY rowid")}
        paid = dict.fromkeys(disputed, 0)
        refunded = dict.fromkeys(disputed, 0)
        if disputed:  # else no pass over the transfers at all; the database keeps only the disputed
            for source, amount, kind in self.conn.execute(
                    f"SELECT from_account, amount, kind FROM transfers WHERE kind IN ('{acct.PAYOUT}', '{acct.FEE}',"
                    f" '{acct.REFUND}') AND from_account IN (SELECT {escrow_key('rowid')} FROM tasks"
                    " WHERE worker_share IS NOT NULL)"):
                (refunded if kind == acct.REFUND else paid)[source] += amount
        found = []
        for key, (task_id, budget, share) in disputed.items():
            p = fees.dispute_share(budget, share)
            if paid[key] != p or refunded[key] != budget - p:
                found.append({"task_id": task_id, "budget": budget, "worker_share": share, "p": p,
                              "paid": paid[key], "refunded": refunded[key]})
                if len(found) == _LIMIT:
                    break
        return found

    def wallets_without_agents(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            "SELECT a.key FROM accounts a WHERE a.key % 4 = 0"  # a wallet (storage/_accounts.py)
            " AND NOT EXISTS (SELECT 1 FROM agents g WHERE g.rowid = a.key / 4) LIMIT 100"
        ))


_LIMIT = 100  # offending rows a check reports at most


class _Slots:
    """Where :meth:`SQLiteLedger.audit` keeps an account's sums: a task's escrow at its task's
    rowid, every other account after those at ``escrows + 1 + key``, and a key that is no
    account's and no task's escrow in the last slot (only a transfer written behind the engine's
    back, with foreign keys off, names one; no check reads that slot)."""

    __slots__ = ("escrows", "others", "size")

    def __init__(self, conn: sqlite3.Connection) -> None:
        top = conn.execute("SELECT MAX(key) FROM accounts").fetchone()[0] or 0
        self.escrows = max(conn.execute("SELECT MAX(rowid) FROM tasks").fetchone()[0] or 0, top // 4)
        self.others = conn.execute(f"SELECT MAX(key) FROM accounts WHERE NOT {is_escrow('key')}").fetchone()[0] or 0
        self.size = self.escrows + self.others + 3

    def of(self, key: str) -> str:
        """SQL: the slot of the account with key ``key`` (a column or expression)."""
        return (f"CASE WHEN {is_escrow(key)} AND {key} BETWEEN 1 AND {escrow_of(self.escrows)} THEN {key} / 4"
                f" WHEN {key} BETWEEN 0 AND {self.others} THEN {self.escrows + 1} + {key} ELSE {self.size - 1} END")


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
