"""SQL for the double-entry ledger: accounts, append-only transfers, and their checks."""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import ledger_accounts as acct

_TRANSFER = (
    "INSERT INTO transfers (from_account, to_account, amount, kind, task_id, wallet_agent, from_balance,"
    " to_balance, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Debits only what the account holds (issuance may go negative): the check and the
# debit are one statement.
_DEBIT = (
    "UPDATE accounts SET balance = balance - ?1 WHERE id = ?2 AND (kind = 'issuance' OR balance >= ?1)"
    " RETURNING balance"
)
_CREDIT = "UPDATE accounts SET balance = balance + ? WHERE id = ? RETURNING balance"


class LedgerSQL:
    conn: sqlite3.Connection

    def open_account(self, account_id: str, kind: str, owner_id: str | None) -> None:
        self.conn.execute(
            "INSERT INTO accounts (id, kind, owner_id, balance) VALUES (?, ?, ?, 0)", (account_id, kind, owner_id)
        )

    def ensure_account(self, account_id: str, kind: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO accounts (id, kind, owner_id, balance) VALUES (?, ?, NULL, 0)", (account_id, kind)
        )

    def balance(self, account_id: str) -> int | None:
        row = self.conn.execute("SELECT balance FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return None if row is None else row[0]

    def transfer(self, source: str, target: str, amount: int, kind: str, task_id: str | None, at: str) -> bool:
        """Move ``amount`` from ``source`` to ``target`` as one recorded transfer.

        Returns:
            False, having changed nothing, when ``source`` is missing or holds less
            than ``amount``; True once the transfer is recorded.

        Raises:
            LookupError: ``target`` does not exist (a bug: the caller must roll back).
        """
        conn = self.conn
        from_row = conn.execute(_DEBIT, (amount, source)).fetchone()
        if from_row is None:
            return False
        to_row = conn.execute(_CREDIT, (amount, target)).fetchone()
        if to_row is None:
            raise LookupError(f"no such account: {target}")
        wallet_agent = acct.wallet_owner(source) or acct.wallet_owner(target)
        conn.execute(_TRANSFER, (source, target, amount, kind, task_id, wallet_agent, from_row[0], to_row[0], at))
        return True

    def transfer_to_new_account(
        self, source: str, target: str, target_kind: str, owner_id: str | None, amount: int, kind: str,
        task_id: str | None, at: str,
    ) -> bool:
        """Open account ``target`` holding ``amount`` taken from ``source``, as one recorded transfer.

        The same movement as :meth:`transfer` into a fresh account, one statement shorter:
        the new account is inserted with its balance instead of inserted and then credited.

        Returns:
            False, having changed nothing, when ``source`` is missing or holds less than ``amount``.
        """
        conn = self.conn
        from_row = conn.execute(_DEBIT, (amount, source)).fetchone()
        if from_row is None:
            return False
        conn.execute(
            "INSERT INTO accounts (id, kind, owner_id, balance) VALUES (?, ?, ?, ?)", (target, target_kind, owner_id, amount)
        )
        wallet_agent = acct.wallet_owner(source) or acct.wallet_owner(target)
        conn.execute(_TRANSFER, (source, target, amount, kind, task_id, wallet_agent, from_row[0], amount, at))
        return True

    def transfer_split(self, source: str, parts: list[tuple[str, int, str]], task_id: str | None, at: str) -> bool:
        """Move credits from ``source`` to several targets, one recorded transfer per ``(target, amount, kind)``.

        ``source`` is debited once by the total; each transfer row still carries the
        source's balance after that one movement, as if they had been made one by one.
        Parts with amount 0 are skipped.

        Returns:
            False, having changed nothing, when ``source`` holds less than the total.

        Raises:
            LookupError: a target does not exist (a bug: the caller must roll back).
        """
        conn = self.conn
        parts = [part for part in parts if part[1]]
        total = sum(amount for _, amount, _ in parts)
        from_row = conn.execute(_DEBIT, (total, source)).fetchone()
        if from_row is None:
            return False
        left = from_row[0] + total
        rows = []
        for target, amount, kind in parts:
            to_row = conn.execute(_CREDIT, (amount, target)).fetchone()
            if to_row is None:
                raise LookupError(f"no such account: {target}")
            left -= amount
            wallet_agent = acct.wallet_owner(source) or acct.wallet_owner(target)
            rows.append((source, target, amount, kind, task_id, wallet_agent, left, to_row[0], at))
        conn.executemany(_TRANSFER, rows)
        return True

    def wallet_transfers(self, agent_id: str, limit: int, offset: int) -> list[sqlite3.Row]:
        """Transfers in or out of the agent's wallet, newest first."""
        return self.conn.execute(
            "SELECT * FROM transfers WHERE wallet_agent = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (agent_id, limit, offset),
        ).fetchall()

    def count_wallet_transfers(self, agent_id: str) -> int:
        return self.conn.execute("SELECT count(*) FROM transfers WHERE wallet_agent = ?", (agent_id,)).fetchone()[0]

    def wallet_figures(self, agent_id: str) -> dict[str, int]:
        """Sums behind a wallet view: credits escrowed, earned, moved out to escrow and refunded."""
        row = self.conn.execute(
            "SELECT"
            " (SELECT COALESCE(SUM(a.balance), 0) FROM tasks t JOIN accounts a ON a.id = 'escrow:' || t.id"
            "   WHERE t.poster_id = ?1 AND t.status IN ('open', 'assigned')),"
            " COALESCE(SUM(CASE kind WHEN 'payout' THEN amount END), 0),"
            " COALESCE(SUM(CASE kind WHEN 'escrow' THEN amount END), 0),"
            " COALESCE(SUM(CASE kind WHEN 'refund' THEN amount END), 0)"
            " FROM transfers WHERE wallet_agent = ?1",
            (agent_id,),
        ).fetchone()
        return {"escrowed": row[0], "earned": row[1], "escrowed_ever": row[2], "refunded": row[3]}

    def ledger_totals(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT kind, COALESCE(SUM(balance), 0), count(*) FROM accounts GROUP BY kind")
        totals = {kind: total for kind, total, _ in rows}
        totals["transfers"] = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM transfers").fetchone()[0]
        return totals

    # -- the invariants of SPEC §2, each a query for the rows that break it ----------
    def ledger_sum(self) -> int:
        return self.conn.execute("SELECT COALESCE(SUM(balance), 0) FROM accounts").fetchone()[0]

    def negative_accounts(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            "SELECT id, kind, balance FROM accounts WHERE (kind = 'issuance' AND balance > 0)"
            " OR (kind != 'issuance' AND balance < 0) LIMIT 100"
        ))

    def escrow_mismatches(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            "SELECT t.id AS task_id, t.status, t.budget, COALESCE(a.balance, 0) AS escrow"
            " FROM tasks t LEFT JOIN accounts a ON a.id = 'escrow:' || t.id"
            " WHERE COALESCE(a.balance, 0) != CASE WHEN t.status IN ('open', 'assigned') THEN t.budget ELSE 0 END"
            " LIMIT 100"
        ))

    def stray_escrows(self) -> list[dict[str, Any]]:
        return _dicts(self.conn.execute(
            "SELECT a.id, a.balance FROM accounts a WHERE a.kind = 'escrow' AND a.balance != 0"
            " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE 'escrow:' || t.id = a.id) LIMIT 100"
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
            " AND NOT EXISTS (SELECT 1 FROM agents g WHERE 'wallet:' || g.id = a.id) LIMIT 100"
        ))


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    return [dict(r) for r in cursor]
