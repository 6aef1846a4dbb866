"""The agents service: registration, keys, profiles, webhooks settings and agent lists."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .. import ledger_accounts as acct
from .. import validation as v
from ..errors import InvalidApiKey, NameTaken, NoWebhook, NotFound, ValidationError
from ..queries import AgentQuery, Page
from ..records import Agent, Registration, Webhook, WebhookSettings
from ..storage import MarketTx
from ..url_policy import check_url
from .admission import Origin, admit, claim_grant
from .context import MarketContext, read_page
from .ledger import move


#: Seconds a webhook secret replaced by a rotation keeps signing beside the new one.
PREVIOUS_SECRET_SECONDS = 24 * 3600
#: Keys :meth:`AgentService.caller` remembers at most (then it starts afresh).
KNOWN_KEYS_MAX = 10_000
#: The value of an argument that was not given (so None can mean "remove").
UNCHANGED: Any = object()


def hash_key(api_key: str) -> str:
    """The stored form of an API key (keys themselves are never stored)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def _found_webhook(tx: MarketTx, agent_id: str) -> WebhookSettings:
    settings = tx.agents.webhook_settings(agent_id)
    if settings is None:
        raise NotFound(f"no agent with id {agent_id!r}")
    return settings


def found_agent(tx: MarketTx, agent_id: str) -> Agent:
    """The agent. Raises NotFound."""
    agent = tx.agents.get(agent_id)
    if agent is None:
        raise NotFound(f"no agent with id {agent_id!r}")
    return agent


class AgentService:
    """Agents: who they are, what they can do, how to reach them."""

    def __init__(self, ctx: MarketContext) -> None:
        self._ctx = ctx
        #: key hash -> (the key generation it was read at, its agent); see :meth:`caller`
        self._known_keys: dict[str, tuple[int, Agent]] = {}

    def register(self, origin: Origin | None = None, **fields: Any) -> Registration:
        """Register an agent and grant it the market's registration credits, if its owner
        email has not had them yet (SPEC §11).

        Args:
            origin: the client address a server saw, for its per-address limit.
            fields: those of ``validation.AGENT_REGISTRATION``.

        Returns:
            The agent, its API key and (with a webhook_url) its webhook secret: both shown
            this once; only a hash of the key is stored. ``balance`` is the grant (0 for a
            later agent of the same email).

        Raises:
            ValidationError: a field is invalid.
            NameTaken: another agent's name reads the same (``validation.name_key``).
            RegistrationLimited, InviteRequired, InviteInvalid: see ``admission.admit``.
        """
        data = v.AGENT_REGISTRATION.validate(fields)
        self._check_urls(data)
        ctx = self._ctx
        agent_id = ctx.new_id()
        api_key = ctx.new_token()
        secret = self._new_webhook_secret() if data["webhook_url"] else None
        now = ctx.now()
        agent = Agent(
            id=agent_id, name=data["name"], description=data["description"], capabilities=tuple(data["capabilities"]),
            price_per_task=data["price_per_task"], owner_email=data["owner_email"],
            endpoint_url=data["endpoint_url"], system_prompt=data["system_prompt"], webhook_url=data["webhook_url"],
            reputation_score=None, rating_count=0, total_tasks=0, created_at=now,
        )
        with ctx.store.write() as tx:
            admit(tx, agent_id, data.get("invite_code"), origin, now)
            if tx.agents.id_by_name(agent.name) is not None:
                raise NameTaken(f"an agent named {agent.name!r} already exists", field="name")
            tx.agents.insert(agent, api_key_hash=hash_key(api_key), webhook_secret=secret)
            tx.ledger.open_account(acct.wallet(agent_id))
            # Read in the transaction that moves the credits, not from this process's Settings: a
            # change made through another process (or Market) applies to the very next operation.
            grant = claim_grant(tx, agent.owner_email, agent_id, tx.settings.get("registration_grant"), now)
            if grant:
                move(tx, acct.ISSUANCE, acct.wallet(agent_id), grant, acct.GRANT, None, now)
            tx.events.add("agent.registered", None, agent_id, now, {"name": agent.name})
        return Registration(agent=agent, api_key=api_key, webhook_secret=secret, balance=grant)

    def authenticate(self, api_key: Any) -> Agent:
        """The agent that owns ``api_key``, read now. Raises InvalidApiKey."""
        return self._key_owner(api_key, cached=False)

    def caller(self, api_key: Any) -> Agent:
        """Who sends ``api_key``, for a request: :meth:`authenticate` with a cache.

        The key's validity is checked against the market's key generation in the same read
        (in the caller's snapshot, if any), so a rotated key stops working at once, in every
        process; a key in its grace period is looked up every time. The record may date
        from an earlier request with the same key: rely on its ``id``, read the rest with
        :meth:`get`.

        Raises:
            InvalidApiKey.
        """
        return self._key_owner(api_key, cached=True)

    def _key_owner(self, api_key: Any, *, cached: bool) -> Agent:
        if not isinstance(api_key, str) or not api_key or len(api_key) > 256:
            raise InvalidApiKey("the API key is not valid")
        key_hash = hash_key(api_key.strip())
        with self._ctx.store.read() as tx:
            generation = tx.agents.key_generation() if cached else None
            known = self._known_keys.get(key_hash) if cached else None
            if known is not None and known[0] == generation:
                return known[1]
            agent = tx.agents.by_key_hash(key_hash)
            if agent is not None:
                if generation is not None:
                    if len(self._known_keys) >= KNOWN_KEYS_MAX:
                        self._known_keys.clear()
                    self._known_keys[key_hash] = (generation, agent)
                return agent
            agent = tx.agents.by_previous_key_hash(key_hash, self._ctx.clock().timestamp())
        if agent is None:
            raise InvalidApiKey("the API key is not valid")
        return agent

    def get(self, agent_id: str) -> Agent:
        """One agent. Raises NotFound."""
        with self._ctx.store.read() as tx:
            return found_agent(tx, agent_id)

    def page(self, query: AgentQuery) -> Page[Agent]:
        """The agents ``query`` selects: one page and the total, from one snapshot."""
        return read_page(self._ctx, query, lambda tx: tx.agents)

    def update(self, agent_id: str, **changes: Any) -> Agent:
        """Change an agent's own profile fields (any of ``validation.AGENT_UPDATE``).

        Raises:
            ValidationError, NameTaken, NotFound.
        """
        unknown = set(changes) - {f.name for f in v.AGENT_UPDATE.fields}
        if unknown:
            field = sorted(unknown)[0]
            raise ValidationError(field, f"{field} cannot be changed here")
        data = v.AGENT_UPDATE.validate(changes, partial=True)
        self._check_urls(data)
        with self._ctx.store.write() as tx:
            found_agent(tx, agent_id)
            if "name" in data:
                owner = tx.agents.id_by_name(data["name"])
                if owner is not None and owner != agent_id:
                    raise NameTaken(f"an agent named {data['name']!r} already exists", field="name")
            tx.agents.update(agent_id, data)
            return found_agent(tx, agent_id)

    def rotate_key(self, agent_id: str) -> str:
        """Replace the agent's API key. Returns the new key.

        The old key keeps working for the ``key_grace_seconds`` setting (a retry of a
        rotation whose answer was lost is still authenticated), then stops.
        """
        api_key = self._ctx.new_token()
        expires = self._ctx.clock().timestamp() + self._ctx.settings.key_grace_seconds
        with self._ctx.store.write() as tx:
            found_agent(tx, agent_id)
            tx.agents.set_key_hash(agent_id, hash_key(api_key), expires)
        return api_key

    def webhook(self, agent_id: str) -> Webhook:
        """The agent's webhook URL and choices (never its secret). Raises NotFound."""
        with self._ctx.store.read() as tx:
            return self._webhook(agent_id, _found_webhook(tx, agent_id))

    def set_webhook(self, agent_id: str, webhook_url: Any = UNCHANGED, **choices: Any) -> Webhook:
        """Set (or, with None, remove) the agent's webhook URL, and/or its choices.

        Args:
            webhook_url: an https:// URL, None to remove it; omitted: unchanged.
            choices: ``events`` (names from ``engine.event_catalog.WEBHOOK_EVENTS``) and
                ``all_tasks``; omitted ones are unchanged.

        Returns:
            The webhook with its signing secret (when a URL was given), generated the first
            time a URL is set and kept across later URL changes.

        Raises:
            ValidationError: not an https:// URL, an unknown event. NotFound.
        """
        given = dict(choices) if webhook_url is UNCHANGED else {"webhook_url": webhook_url, **choices}
        data = v.WEBHOOK.validate(given, partial=True)
        url = data.get("webhook_url")
        if "webhook_url" in data:
            self._check_urls({"webhook_url": url})
        with self._ctx.store.write() as tx:
            current = _found_webhook(tx, agent_id)
            if "webhook_url" in data:
                secret = current.secret or (self._new_webhook_secret() if url else None)
                tx.agents.set_webhook(agent_id, url, secret)
            if "events" in data or "all_tasks" in data:
                tx.agents.set_webhook_choices(agent_id, data.get("events", current.events),
                                              data.get("all_tasks", current.all_tasks))
            stored = _found_webhook(tx, agent_id)
        shown = stored.secret if data.get("webhook_url") else None
        return self._webhook(agent_id, stored, secret=shown)

    def rotate_webhook_secret(self, agent_id: str) -> Webhook:
        """Give the agent's webhook a new signing secret; the old one keeps signing beside it
        for ``PREVIOUS_SECRET_SECONDS`` (a rotation within that time drops the oldest).

        Returns:
            The webhook with its new secret, shown this once.

        Raises:
            NotFound. NoWebhook: the agent has no webhook URL.
        """
        secret = self._new_webhook_secret()
        until = self._ctx.clock().timestamp() + PREVIOUS_SECRET_SECONDS
        with self._ctx.store.write() as tx:
            current = _found_webhook(tx, agent_id)
            if not current.url or not current.secret:
                raise NoWebhook("this agent has no webhook URL; set one first")
            tx.agents.set_webhook_secret(agent_id, secret, current.secret, until)
            stored = _found_webhook(tx, agent_id)
        return self._webhook(agent_id, stored, secret=secret)

    def _webhook(self, agent_id: str, stored: WebhookSettings, *, secret: str | None = None) -> Webhook:
        until = stored.previous_until
        live = stored.previous_secret is not None and until is not None and until > self._ctx.clock().timestamp()
        shown_until = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if live and until else None
        return Webhook(agent_id=agent_id, url=stored.url, secret=secret, events=stored.events,
                       all_tasks=stored.all_tasks, previous_secret_until=shown_until)

    def webhook_secret(self, agent_id: str) -> str | None:
        """The agent's webhook signing secret, for outbound calls only. Raises NotFound."""
        with self._ctx.store.read() as tx:
            found_agent(tx, agent_id)
            return tx.agents.webhook_secret(agent_id)

    def _new_webhook_secret(self) -> str:
        # Standard Webhooks' form: "whsec_" + base64 of the key bytes.
        return "whsec_" + base64.b64encode(bytes.fromhex(self._ctx.new_token())).decode()

    def _check_urls(self, data: Mapping[str, Any]) -> None:
        """Refuse agent URLs that point at private addresses, unless the market allows them."""
        if self._ctx.allow_private_urls:
            return
        for field in ("endpoint_url", "webhook_url"):
            check_url(field, data.get(field), allow_private=False)
