"""The ledger service: wallets, grants, market figures and the books' checks; and the
credit movements the other services make inside their own transactions."""

from __future__ import annotations

from typing import Any

from .. import fees
from .. import ledger_accounts as acct
from .. import validation as v
from ..errors import InsufficientCredits, NotFound
from ..queries import Page, TransactionQuery
from ..records import Check, LedgerReport, Stats, Task, Transaction, Wallet
from ..states import ESCROWED
from ..storage import MarketTx
from .context import MarketContext, read_page


# -- movements, inside a caller's transaction -----------------------------------------
def post_charged(tx: MarketTx, task: Task, now: str) -> None:
    """Insert ``task`` and open its escrow with its budget from its poster's wallet.

    Raises:
        InsufficientCredits: the wallet holds less. NotFound: no such poster. (Nothing written.)
    """
    # The escrow's account is keyed by the task's row (storage: ledger_sql), so the task goes in
    # first; the wallet is read before, so a refused post writes nothing at all.
    wallet, escrow = acct.wallet(task.poster_id), acct.escrow(task.id)
    balance = tx.ledger.balance(wallet)
    if balance is None:
        raise NotFound(f"no agent with id {task.poster_id!r}")
    if balance < task.budget:
        raise InsufficientCredits(f"this needs {task.budget} credits and the wallet holds {balance}",
                                  balance=balance, needed=task.budget)
    tx.tasks.insert(task)
    tx.ledger.open_account(escrow)
    move(tx, wallet, escrow, task.budget, acct.ESCROW, task.id, now)


def move(tx: MarketTx, source: str, target: str, amount: int, kind: str, task_id: str | None, now: str,
         memo: str | None = None) -> None:
    """A transfer the market's own rules guarantee is covered (escrow, issuance)."""
    if not tx.ledger.transfer(source, target, amount, kind, task_id, now, memo):
        raise RuntimeError(f"ledger inconsistency: {source} cannot cover {amount} credits")


def refund(tx: MarketTx, task: Task, now: str) -> None:
    """Move the task's whole escrow back to its poster."""
    move(tx, acct.escrow(task.id), acct.wallet(task.poster_id), task.budget, acct.REFUND, task.id, now)


def pay_out(tx: MarketTx, task: Task, fee_percent: int, now: str) -> None:
    """Move the escrow out: the worker's share and the fee, at ``fee_percent`` as stored now
    (read in this same transaction), and count the worker's completed task."""
    assert task.assigned_to is not None
    pay, fee = fees.split(task.budget, fee_percent)
    parts = [(acct.wallet(task.assigned_to), pay, acct.PAYOUT), (acct.FEES, fee, acct.FEE)]
    if not tx.ledger.transfer_split(acct.escrow(task.id), parts, task.id, now):
        raise RuntimeError(f"ledger inconsistency: the escrow of {task.id} cannot cover {task.budget} credits")
    tx.agents.count_completed(task.assigned_to)


def settle_dispute(tx: MarketTx, task: Task, worker_share: int, fee_percent: int, now: str) -> int:
    """Split a disputed task's escrow as SPEC §10 says: ``p = floor(budget * worker_share / 100)``;
    the worker gets ``p`` less the fee (``fees.split``), the platform the fee, the poster the
    rest of the budget back. Counts a completed task for the worker when ``p`` > 0.

    Returns:
        ``p``.
    """
    assert task.assigned_to is not None
    p = fees.dispute_share(task.budget, worker_share)
    pay, fee = fees.split(p, fee_percent)
    parts = [(acct.wallet(task.assigned_to), pay, acct.PAYOUT), (acct.FEES, fee, acct.FEE),
             (acct.wallet(task.poster_id), task.budget - p, acct.REFUND)]
    if not tx.ledger.transfer_split(acct.escrow(task.id), parts, task.id, now):
        raise RuntimeError(f"ledger inconsistency: the escrow of {task.id} cannot cover {task.budget} credits")
    if p > 0:
        tx.agents.count_completed(task.assigned_to)
    return p


class LedgerService:
    """Credits as agents and operators see them."""

    def __init__(self, ctx: MarketContext) -> None:
        self._ctx = ctx

    def open_house_accounts(self, tx: MarketTx) -> None:
        """Make sure the market's own accounts exist (fees, issuance)."""
        tx.ledger.ensure_account(acct.FEES)
        tx.ledger.ensure_account(acct.ISSUANCE)

    def balance(self, agent_id: str) -> int:
        """The agent's wallet balance. Raises NotFound."""
        with self._ctx.store.read() as tx:
            return _balance(tx, agent_id)

    def wallet(self, agent_id: str) -> Wallet:
        """Balance, credits held in escrow for the agent's open tasks, earned and spent. Raises NotFound."""
        with self._ctx.store.read() as tx:
            balance = _balance(tx, agent_id)
            f = tx.ledger.wallet_figures(agent_id)
        spent = f.escrowed_ever - f.refunded - f.escrowed
        return Wallet(agent_id=agent_id, balance=balance, escrowed=f.escrowed, earned=f.earned, spent=spent)

    def transactions(self, agent_id: str, limit: Any = None, offset: Any = None) -> list[Transaction]:
        """The agent's wallet history, newest first. Raises NotFound; ValidationError (paging)."""
        limit, offset = v.page(limit, offset)
        with self._ctx.store.read() as tx:
            _balance(tx, agent_id)
            return tx.ledger.wallet_transactions(agent_id, limit, offset)

    def transactions_page(self, agent_id: str, limit: Any = None, offset: Any = None,
                          cursor: Any = None) -> Page[Transaction]:
        """One page of the agent's wallet history and its total, from one snapshot.

        Raises:
            NotFound; ValidationError (paging); InvalidCursor.
        """
        limit, offset = v.page(limit, offset)
        with self._ctx.store.read() as tx:
            _balance(tx, agent_id)
        return read_page(self._ctx, TransactionQuery(agent_id, limit, offset, cursor or None), lambda tx: tx.ledger)

    def count_transactions(self, agent_id: str) -> int:
        """How many transfers touched the agent's wallet."""
        with self._ctx.store.read() as tx:
            return tx.ledger.count_wallet_transactions(agent_id)

    def grant(self, agent_id: str, credits: Any, reason: Any = None) -> int:
        """Issue ``credits`` new credits to an agent, with ``reason`` recorded on the transfer.

        Returns:
            The new balance.

        Raises:
            ValidationError (credits, reason); NotFound.
        """
        credits = v.GRANT_CREDITS.clean(credits)
        reason = v.GRANT_REASON.clean(reason)
        now = self._ctx.now()
        with self._ctx.store.write() as tx:
            if tx.agents.get(agent_id) is None:
                raise NotFound(f"no agent with id {agent_id!r}")
            move(tx, acct.ISSUANCE, acct.wallet(agent_id), credits, acct.GRANT, None, now, reason)
            tx.events.add("credits.granted", None, agent_id, now, {"credits": credits, "reason": reason})
            return tx.ledger.balance(acct.wallet(agent_id)) or 0

    def stats(self) -> Stats:
        """Counts of agents and tasks, and where the credits are."""
        with self._ctx.store.read() as tx:
            totals = tx.ledger.totals()
            return Stats(
                agents=tx.counters.get("agents"),
                tasks=tx.counters.by_status(),
                credits_issued=-totals.get("issuance", 0),
                credits_in_wallets=totals.get("wallet", 0),
                credits_in_escrow=totals.get("escrow", 0),
                fees_collected=totals.get("fees", 0),
                transfers=totals["transfers"],
            )

    def verify(self) -> LedgerReport:
        """Check every invariant of SPEC §2 and §10 in one snapshot; report each with offending rows."""
        with self._ctx.store.read() as tx:
            ledger = tx.ledger
            total = ledger.total()
            audit = ledger.audit(sorted(ESCROWED))
            checks = (
                Check("balanced", total == 0, "the sum of all account balances is 0",
                      () if total == 0 else ({"sum": total},)),
                _check("no_negative_balances", "no wallet, escrow or fee account is negative",
                       ledger.negative_accounts()),
                _check("escrow_matches_budget", "a task's escrow equals its budget while open, assigned, "
                       "submitted or disputed, else 0", [*audit.escrow_mismatches, *audit.stray_escrows]),
                _check("escrow_released_once", "every escrow received its budget once and, once the task left "
                       "the escrowed states, gave all of it out (none while escrowed)", list(audit.escrow_flows)),
                _check("settled_disputes_balanced", "every settled dispute paid p = floor(budget * worker_share "
                       "/ 100) to the worker and the fee, and budget - p back to the poster",
                       ledger.unbalanced_disputes()),
                _check("cached_balances", "every cached balance equals the sum of its transfers",
                       list(audit.cached_balances)),
                _check("wallets_have_agents", "every wallet belongs to an agent", ledger.wallets_without_agents()),
            )
        return LedgerReport(checks=checks)

    def verify_counters(self) -> LedgerReport:
        """Check every counter (tasks per status, per capability and per agent, agents, wallet
        transfers) against a recount of the tables, in one snapshot."""
        with self._ctx.store.read() as tx:
            return LedgerReport(checks=(_check("counters_match", "every counter equals a recount of its rows",
                                               tx.counters.mismatches()),))


def _balance(tx: MarketTx, agent_id: str) -> int:
    balance = tx.ledger.balance(acct.wallet(agent_id))
    if balance is None:
        raise NotFound(f"no agent with id {agent_id!r}")
    return balance


def _check(name: str, description: str, offending: list[dict[str, Any]]) -> Check:
    return Check(name, not offending, description, tuple(offending))
