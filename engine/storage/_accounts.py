"""SQL for the ledger's account keys (schema migration 21).

An account is keyed by an integer: an agent's wallet is the agent's rowid * 4, a task's escrow
the task's rowid * 4 + 1, the platform's fee and issuance accounts 2 and 3; so ``key % 4`` is
its kind and ``key / 4`` its owner's rowid. The ledger's callers still name accounts as
``ledger_accounts`` does ("wallet:<agent id>", ...); these expressions translate both ways.
"""

from __future__ import annotations

from .. import ledger_accounts as acct

FEES_KEY, ISSUANCE_KEY = 2, 3
#: The kinds of account, by ``key % 4``.
KINDS = ("wallet", "escrow", "fees", "issuance")
_OWNED = len(acct.wallet(""))  # "wallet:" and "escrow:" are equally long
assert _OWNED == len(acct.escrow(""))


def key_of(name: str) -> str:
    """SQL: the key of the account named by SQL expression ``name`` (NULL: no such owner)."""
    return (f"CASE {name} WHEN '{acct.FEES}' THEN {FEES_KEY} WHEN '{acct.ISSUANCE}' THEN {ISSUANCE_KEY}"
            f" ELSE CASE substr({name}, 1, {_OWNED})"
            f" WHEN '{acct.wallet('')}' THEN (SELECT rowid * 4 FROM agents WHERE id = substr({name}, {_OWNED + 1}))"
            f" WHEN '{acct.escrow('')}' THEN (SELECT rowid * 4 + 1 FROM tasks WHERE id = substr({name}, {_OWNED + 1}))"
            " END END")


def name_of(key: str) -> str:
    """SQL: the name (as ledger_accounts spells it) of the account with key ``key``."""
    return (f"CASE {key} % 4 WHEN 0 THEN '{acct.wallet('')}' || (SELECT id FROM agents WHERE rowid = {key} / 4)"
            f" WHEN 1 THEN '{acct.escrow('')}' || (SELECT id FROM tasks WHERE rowid = {key} / 4)"
            f" WHEN {FEES_KEY} THEN '{acct.FEES}' ELSE '{acct.ISSUANCE}' END")


def kind_of(key: str) -> str:
    """SQL: the kind of the account with key ``key``."""
    return f"CASE {key} % 4 {' '.join(f'WHEN {code} THEN {kind!r}' for code, kind in enumerate(KINDS[:-1]))}" \
           f" ELSE '{KINDS[-1]}' END"


def escrow_key(task_rowid: str) -> str:
    """SQL: the key of the escrow of the task with rowid ``task_rowid``."""
    return f"{task_rowid} * 4 + 1"


def is_escrow(key: str) -> str:
    """SQL: whether ``key`` is a task's escrow (its task's rowid is ``key / 4``)."""
    return f"{key} % 4 = 1"


def escrow_of(task_rowid: int) -> int:
    """The key of the escrow of the task with rowid ``task_rowid`` (as :func:`escrow_key` in SQL)."""
    return task_rowid * 4 + 1
