"""Names of ledger accounts and kinds of transfers: one wallet per agent, one escrow per
task, the platform's fee account, and the issuance account that grants come from."""

from __future__ import annotations

FEES = "platform:fees"
ISSUANCE = "platform:issuance"

# Kinds of transfers, as they appear in wallet histories.
GRANT = "grant"  # issuance -> wallet
ESCROW = "escrow"  # wallet -> escrow (posting or hiring)
PAYOUT = "payout"  # escrow -> worker's wallet
FEE = "fee"  # escrow -> platform fees
REFUND = "refund"  # escrow -> poster's wallet (cancel, failed execution)


def wallet(agent_id: str) -> str:
    return "wallet:" + agent_id


def escrow(task_id: str) -> str:
    return "escrow:" + task_id

