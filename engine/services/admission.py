"""Who may register and who gets free credits (SPEC §11): invite codes, one registration
grant per owner email, and registrations per client address.

Every rule is applied inside the registration's own transaction (:func:`admit`), so two
registrations racing in two processes on one file cannot both spend one invite code, both
take one email's grant, or both slip under an address's limit.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import validation as v
from ..errors import InviteInvalid, InviteRequired, RegistrationLimited
from ..records import Invite, RegistrationTerms
from ..storage import MarketTx
from .context import MarketContext

#: The window of the per-address registration limit.
WINDOW_SECONDS = 3600.0
INVITE_PREFIX = "inv_"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a registration came from, as the server saw it.

    Attributes:
        address: the client's address (after trusted proxies).
        per_hour: registrations this address may make per hour; 0 is no limit.
    """

    address: str
    per_hour: int


def hash_code(code: str) -> str:
    """The stored form of an invite code."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


def admit(tx: MarketTx, agent_id: str, invite_code: str | None, origin: Origin | None, now: str) -> None:
    """Let a registration in, inside its transaction: the address's limit, then the invite.

    Args:
        invite_code: the code given, if any (required when the market is invite-only).
        origin: the client, when a server saw one; None (local callers) is not limited.
        now: the market's time as stored; at: the same moment in Unix seconds.

    Raises:
        RegistrationLimited: the address registered ``per_hour`` agents within the last hour.
        InviteRequired: the market is invite-only and no code was given.
        InviteInvalid: the code is unknown or used.
    """
    if origin is not None and origin.per_hour > 0:
        at = datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp()
        count, oldest = tx.registrations.recent_origins(origin.address, at - WINDOW_SECONDS)
        if count >= origin.per_hour:
            wait = max(1, math.ceil((oldest or at) + WINDOW_SECONDS - at))
            raise RegistrationLimited(f"at most {origin.per_hour} registrations an hour from one address",
                                      retry_after=wait)
        tx.registrations.add_origin(origin.address, at, at - WINDOW_SECONDS)
    if invite_code is None:
        if tx.settings.get("registration_requires_invite"):
            raise InviteRequired("this market registers agents only with an invite code", field="invite_code")
        return
    if not tx.registrations.use_invite(hash_code(invite_code), agent_id, now):
        raise InviteInvalid("this invite code is unknown or was already used", field="invite_code")


def claim_grant(tx: MarketTx, owner_email: str, agent_id: str, grant: int, now: str) -> int:
    """The registration grant this agent gets: ``grant`` for its email's first agent, else 0."""
    if grant and tx.registrations.claim_grant(v.email_key(owner_email), agent_id, now):
        return grant
    return 0


class AdmissionService:
    """Registration terms, and invite codes as the market's operator manages them."""

    def __init__(self, ctx: MarketContext) -> None:
        self._ctx = ctx

    def terms(self) -> RegistrationTerms:
        """What registering takes now (read from the market file, not this process's settings)."""
        with self._ctx.store.read() as tx:
            return RegistrationTerms(requires_invite=bool(tx.settings.get("registration_requires_invite")),
                                     registration_grant=tx.settings.get("registration_grant") or 0)

    def create_invites(self, count: Any) -> list[str]:
        """Make ``count`` single-use invite codes. Returns the codes: shown this once, stored hashed.

        Raises:
            ValidationError: ``count`` is not an integer out of ``validation.INVITE_COUNT``'s bounds.
        """
        count = v.INVITE_COUNT.clean(count)
        codes = [INVITE_PREFIX + self._ctx.new_token()[:24] for _ in range(count)]
        with self._ctx.store.write() as tx:
            tx.registrations.add_invites([hash_code(code) for code in codes], self._ctx.now())
        return codes

    def invites(self, limit: Any = None, offset: Any = None) -> list[Invite]:
        """Invite codes (their hashes' prefixes), newest first. Raises ValidationError (paging)."""
        limit, offset = v.page(limit, offset)
        with self._ctx.store.read() as tx:
            return tx.registrations.invites(limit, offset)
