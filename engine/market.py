"""The Market: every operation of the marketplace, each one SQLite transaction.

The server, the terminal app, the CLI and simulations all act through this class.
It validates input (``validation``), applies the state machine (``states``) and
the fee split (``fees``), moves credits as balanced transfers (``ledger_accounts``)
and leaves the SQL to the storage layer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import fees, ids
from . import ledger_accounts as acct
from . import validation as v
from .errors import (
    AgentNotExecutable,
    AlreadyRated,
    InsufficientCredits,
    InvalidApiKey,
    MissingCapabilities,
    NameTaken,
    NotAssignee,
    NotFound,
    NotPoster,
    OwnTask,
    SelfHire,
    ValidationError,
)
from .records import (
    Agent,
    Check,
    Delivery,
    Event,
    LedgerReport,
    Registration,
    Stats,
    Task,
    Transaction,
    Wallet,
    Webhook,
)
from .states import Action, TaskStatus, transition
from .storage import SQLiteStore, SQLiteTx
from .storage.agents_sql import AGENT_ORDERS
from .storage.tasks_sql import TASK_ORDERS

Clock = Callable[[], datetime]
log = logging.getLogger("agentmarket.market")
#: A setting older market files stored; it now belongs to the running process only.
_RETIRED_SETTING = "allow_private_urls"
#: The public_url every file stored before it could be left unset: it means "unset".
_OLD_DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True, slots=True)
class Settings:
    """Market-wide settings, stored in the market file.

    ``fee_percent`` and ``registration_grant`` take effect at once in every process: the
    operations that move credits read them in their own transaction. The others are read
    when a Market opens (restart a server to apply a change made elsewhere).

    Attributes:
        fee_percent: the platform's share of a completed task's budget, 0–100.
        registration_grant: credits every new agent receives.
        public_url: the market's public address, sent in webhook payloads; empty: the
            address the server serving it bound (see ``Market.public_url``).
        rate_limit_per_minute: requests per API key per minute for the server; 0 is off.
        key_grace_seconds: how long an API key keeps working after ``rotate_key`` replaced
            it, so a client that lost the answer can retry; 0 ends it at once.

    Whether agents' URLs may point at private addresses is not a stored setting: it is
    ``Market(..., allow_private_urls=...)``, chosen by the process that opens the market.
    """

    fee_percent: int = fees.DEFAULT_FEE_PERCENT
    registration_grant: int = fees.DEFAULT_REGISTRATION_GRANT
    public_url: str = ""
    rate_limit_per_minute: int = 0
    key_grace_seconds: int = 300


_SETTING_BOUNDS = {"fee_percent": (0, 100), "registration_grant": (0, 1_000_000), "rate_limit_per_minute": (0, 10**6),
                   "key_grace_seconds": (0, 86_400)}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def hash_key(api_key: str) -> str:
    """The stored form of an API key (keys themselves are never stored)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


class Market:
    """A marketplace on one SQLite file (or ``":memory:"``).

    Safe to share between threads: each thread gets its own connection, and every
    operation runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent callers
    (threads or processes on the same file) see each other's changes whole or not at all.

    Args:
        path: the market file, created with its schema if missing; ``":memory:"`` for a
            throwaway market.
        clock: returns the current time (UTC); tests pass a fixed clock.
        new_id: returns a fresh id for agents, tasks and deliveries (time-ordered UUIDs by default).
        new_token: returns 64 hex characters of secret randomness (API keys, secrets).
        allow_private_urls: let agents' URLs point at private or loopback addresses (local
            development and tests only). It lasts as long as this object and is never
            stored; a value stored by an older version is ignored (with a warning).
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        clock: Clock | None = None,
        new_id: Callable[[], str] | None = None,
        new_token: Callable[[], str] | None = None,
        allow_private_urls: bool = False,
    ) -> None:
        self.path = str(path)
        self.allow_private_urls = allow_private_urls
        self._store = SQLiteStore(path)
        self._clock = clock or _utc_now
        self._now_cache: tuple[int, str] = (-1, "")
        self._new_id = new_id or ids.new_id
        self._new_token = new_token or (lambda: secrets.token_hex(32))
        with self._store.write() as tx:
            tx.ensure_account(acct.FEES, "fees")
            tx.ensure_account(acct.ISSUANCE, "issuance")
            stored = tx.settings()
            for f in fields(Settings):
                if f.name not in stored:
                    tx.put_setting(f.name, json.dumps(f.default))
            stored = tx.settings()
        if json.loads(stored.get(_RETIRED_SETTING, "false")) is True:
            log.warning("%s: the stored setting allow_private_urls=true is ignored; private URLs are allowed only "
                        "when the process allows them (--allow-private-urls)", self.path)
        self.settings = Settings(**{k: json.loads(stored[k]) for k in (f.name for f in fields(Settings))})
        #: The address sent as ``marketplace_url`` in webhooks: the stored setting, else
        #: what a server serving this market sets (the address it bound).
        self.public_url = "" if self.settings.public_url == _OLD_DEFAULT_PUBLIC_URL else self.settings.public_url

    # -- lifecycle ------------------------------------------------------------------
    def close(self) -> None:
        """Close the market's connections."""
        self._store.close()

    def __enter__(self) -> Market:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def configure(self, **changes: Any) -> Settings:
        """Change market settings (see :class:`Settings`) and store them.

        Raises:
            ValidationError: an unknown setting or a value out of bounds.
        """
        known = {f.name: f for f in fields(Settings)}
        for name, value in changes.items():
            if name not in known:
                raise ValidationError(name, f"unknown setting {name!r}")
            expected = type(getattr(self.settings, name))
            if type(value) is not expected:
                raise ValidationError(name, f"{name} must be of type {expected.__name__}")
            if name in _SETTING_BOUNDS:
                low, high = _SETTING_BOUNDS[name]
                if not low <= value <= high:
                    raise ValidationError(name, f"{name} must be from {low} to {high}")
        with self._store.write() as tx:
            for name, value in changes.items():
                tx.put_setting(name, json.dumps(value))
        self.settings = replace(self.settings, **changes)
        if "public_url" in changes:
            self.public_url = self.settings.public_url
        return self.settings

    def checkpoint(self) -> None:
        """Write every committed change from the WAL into the market file now.

        A background thread does this a few times a second anyway; call it before
        copying the file, or to count that work in a benchmark.
        """
        self._store.checkpoint()

    def data_version(self) -> int:
        """Changes whenever another connection (thread or process) commits; cheap to poll."""
        return self._store.data_version()

    def _now(self) -> str:
        """The clock's time as stored: ISO 8601 UTC to the second."""
        if self._clock is _utc_now:
            # Every operation asks; formatting once per second of the wall clock is enough.
            second = int(time.time())
            cached = self._now_cache
            if cached[0] != second:
                cached = self._now_cache = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
            return cached[1]
        return self._clock().isoformat(timespec="seconds")[:19] + "Z"

    # -- agents ---------------------------------------------------------------------
    def register_agent(
        self,
        *,
        name: Any,
        capabilities: Any,
        owner_email: Any,
        description: Any = "",
        price_per_task: Any = 0,
        endpoint_url: Any = None,
        system_prompt: Any = None,
        webhook_url: Any = None,
    ) -> Registration:
        """Register an agent and grant it the market's registration credits.

        Returns:
            The agent, its API key and (when a webhook_url was given) its webhook
            secret: both are shown this once; only a hash of the key is stored.

        Raises:
            ValidationError: a field is invalid.
            NameTaken: another agent has this name, in any letter case.
        """
        data = v.AGENT_REGISTRATION.validate(
            {"name": name, "capabilities": capabilities, "owner_email": owner_email,
             "description": description, "price_per_task": price_per_task, "endpoint_url": endpoint_url,
             "system_prompt": system_prompt, "webhook_url": webhook_url}
        )
        self._check_urls(data)
        agent_id = self._new_id()
        api_key = self._new_token()
        secret = self._webhook_secret() if data["webhook_url"] else None
        now = self._now()
        row = {
            "id": agent_id,
            "name": data["name"],
            "name_key": v.name_key(data["name"]),
            "description": data["description"],
            "capabilities": json.dumps(list(data["capabilities"])),
            "price_per_task": data["price_per_task"],
            "owner_email": data["owner_email"],
            "endpoint_url": data["endpoint_url"],
            "system_prompt": data["system_prompt"],
            "webhook_url": data["webhook_url"],
            "webhook_secret": secret,
            "api_key_hash": hash_key(api_key),
            "created_at": now,
        }
        try:
            with self._store.write() as tx:
                grant = _money_setting(tx, "registration_grant")
                if tx.agent_id_by_name_key(row["name_key"]) is not None:
                    raise NameTaken(f"an agent named {data['name']!r} already exists", field="name")
                tx.insert_agent(row)
                tx.set_agent_capabilities(agent_id, data["capabilities"])
                tx.open_account(acct.wallet(agent_id), "wallet", agent_id)
                if grant:
                    self._move(tx, acct.ISSUANCE, acct.wallet(agent_id), grant, acct.GRANT, None, now)
                self._event(tx, "agent.registered", None, agent_id, now, name=data["name"])
                agent = _agent(tx.agent(agent_id))
        except sqlite3.IntegrityError as exc:  # lost a race for the name
            if "name_key" in str(exc):
                raise NameTaken(f"an agent named {data['name']!r} already exists", field="name") from None
            raise
        return Registration(agent=agent, api_key=api_key, webhook_secret=secret, balance=grant)

    def authenticate(self, api_key: Any) -> Agent:
        """The agent that owns ``api_key``.

        Raises:
            InvalidApiKey: no agent has this key.
        """
        if not isinstance(api_key, str) or not api_key or len(api_key) > 256:
            raise InvalidApiKey("the API key is not valid")
        with self._store.read() as tx:
            row = tx.agent_by_key_hash(hash_key(api_key.strip()), self._clock().timestamp())
        if row is None:
            raise InvalidApiKey("the API key is not valid")
        return _agent(row)

    def get_agent(self, agent_id: str) -> Agent:
        """One agent. Raises NotFound."""
        with self._store.read() as tx:
            return _agent(_found(tx.agent(agent_id), "agent", agent_id))

    def list_agents(
        self,
        capability: str | None = None,
        limit: Any = None,
        offset: Any = None,
        *,
        search: str | None = None,
        order: str = "newest",
    ) -> list[Agent]:
        """Agents, newest first by default; ``order`` is one of newest, reputation, price, tasks, name.

        Raises:
            ValidationError: a bad capability, limit, offset or order.
        """
        limit, offset = v.page(limit, offset)
        capability = v.capability_filter(capability)
        _check_order(order, AGENT_ORDERS)
        with self._store.read() as tx:
            return [_agent(r) for r in tx.list_agents(capability, search or None, order, limit, offset)]

    def count_agents(self, capability: str | None = None, *, search: str | None = None) -> int:
        """How many agents ``list_agents`` would page through."""
        capability = v.capability_filter(capability)
        with self._store.read() as tx:
            return tx.count_agents(capability, search or None)

    def update_agent(self, agent_id: str, **changes: Any) -> Agent:
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
        if "capabilities" in data:
            capabilities = data["capabilities"]
            data["capabilities"] = json.dumps(list(capabilities))
        if "name" in data:
            data["name_key"] = v.name_key(data["name"])
        with self._store.write() as tx:
            _found(tx.agent(agent_id), "agent", agent_id)
            if "name_key" in data:
                owner = tx.agent_id_by_name_key(data["name_key"])
                if owner is not None and owner != agent_id:
                    raise NameTaken(f"an agent named {data['name']!r} already exists", field="name")
            tx.update_agent(agent_id, data)
            if "capabilities" in data:
                tx.set_agent_capabilities(agent_id, capabilities)
            return _agent(tx.agent(agent_id))

    def rotate_key(self, agent_id: str) -> str:
        """Replace the agent's API key. Returns the new key.

        The old key keeps working for ``settings.key_grace_seconds`` (a retry of a
        rotation whose answer was lost is still authenticated), then stops.
        """
        api_key = self._new_token()
        expires = self._clock().timestamp() + self.settings.key_grace_seconds
        with self._store.write() as tx:
            row = _found(tx.agent(agent_id), "agent", agent_id)
            tx.update_agent(agent_id, {"api_key_hash": hash_key(api_key), "previous_key_hash": row["api_key_hash"],
                                       "previous_key_expires_at": expires})
        return api_key

    def webhook(self, agent_id: str) -> Webhook:
        """The agent's webhook URL (never its secret)."""
        agent = self.get_agent(agent_id)
        return Webhook(agent_id=agent_id, url=agent.webhook_url)

    def set_webhook(self, agent_id: str, webhook_url: Any) -> Webhook:
        """Set (or, with None, remove) the agent's webhook URL.

        Returns:
            The webhook with its signing secret, which is generated the first time a
            URL is set and kept across later URL changes.

        Raises:
            ValidationError: not an https:// URL.
        """
        url = v.WEBHOOK.validate({"webhook_url": webhook_url})["webhook_url"]
        self._check_urls({"webhook_url": url})
        with self._store.write() as tx:
            row = _found(tx.agent(agent_id), "agent", agent_id)
            secret = row["webhook_secret"] or (self._webhook_secret() if url else None)
            tx.update_agent(agent_id, {"webhook_url": url, "webhook_secret": secret})
        return Webhook(agent_id=agent_id, url=url, secret=secret if url else None)

    def webhook_secret(self, agent_id: str) -> str | None:
        """The agent's webhook signing secret, for the delivery worker only."""
        with self._store.read() as tx:
            return _found(tx.agent(agent_id), "agent", agent_id)["webhook_secret"]

    def _webhook_secret(self) -> str:
        # Standard Webhooks' form: "whsec_" + base64 of the key bytes.
        return "whsec_" + base64.b64encode(bytes.fromhex(self._new_token())).decode()

    def webhook_deliveries(self, agent_id: str, limit: Any = 20) -> list[Delivery]:
        """The agent's recent webhook deliveries, newest first, each with its latest attempt.

        Raises:
            NotFound; ValidationError (a bad limit).
        """
        from .outbound.outbox import Outbox

        limit, _ = v.page(limit)
        self.get_agent(agent_id)
        return Outbox(self).recent(agent_id, limit)

    def _check_urls(self, data: Mapping[str, Any]) -> None:
        """Refuse agent URLs that point at private addresses, unless the market allows them."""
        if self.allow_private_urls:
            return
        from .outbound.urls import check_url

        for field in ("endpoint_url", "webhook_url"):
            check_url(field, data.get(field), allow_private=False)

    # -- tasks ----------------------------------------------------------------------
    def post_task(
        self,
        poster_id: str,
        *,
        title: Any,
        budget: Any,
        description: Any = "",
        required_capabilities: Any = (),
    ) -> Task:
        """Post a task and move its budget from the poster's wallet into the task's escrow.

        Raises:
            ValidationError: a field is invalid.
            InsufficientCredits: the poster's balance is below the budget (nothing changes).
            NotFound: no such poster.
        """
        data = v.TASK.validate(
            {"title": title, "budget": budget, "description": description,
             "required_capabilities": list(required_capabilities)
             if isinstance(required_capabilities, tuple) else required_capabilities}
        )
        budget = data["budget"]
        capabilities = data["required_capabilities"]
        task_id = self._new_id()
        now = self._now()
        task = Task(
            id=task_id, title=data["title"], description=data["description"], budget=budget,
            required_capabilities=capabilities, status=TaskStatus.OPEN, kind="market", poster_id=poster_id,
            assigned_to=None, result=None, rating=None, escrow=budget, created_at=now, updated_at=now,
        )
        with self._store.write() as tx:
            self._charge(tx, poster_id, budget, task_id, now)
            rowid = tx.insert_task({
                "id": task_id, "title": task.title, "description": task.description, "budget": budget,
                "required_capabilities": json.dumps(list(capabilities)), "status": TaskStatus.OPEN,
                "kind": "market", "poster_id": poster_id, "created_at": now, "updated_at": now,
            })
            if capabilities:
                tx.add_task_capabilities(rowid, capabilities)
            self._event(tx, "task.posted", task_id, poster_id, now, title=task.title, budget=budget)
            receivers = tx.webhook_receivers(capabilities, poster_id)
            if receivers:
                self._notify(tx, "task.posted", task, [r["id"] for r in receivers], now)
        return task

    def get_task(self, task_id: str) -> Task:
        """One task. Raises NotFound."""
        with self._store.read() as tx:
            return _task(_found(tx.task(task_id), "task", task_id))

    def list_tasks(
        self,
        status: str | None = None,
        capability: str | None = None,
        limit: Any = None,
        offset: Any = None,
        *,
        search: str | None = None,
        poster_id: str | None = None,
        assigned_to: str | None = None,
        order: str = "newest",
    ) -> list[Task]:
        """Tasks, newest first by default; ``order`` is newest, oldest, budget_high or budget_low.

        Raises:
            ValidationError: a bad status, capability, limit, offset or order.
        """
        limit, offset = v.page(limit, offset)
        filters = self._task_filters(status, capability, search, poster_id, assigned_to)
        _check_order(order, TASK_ORDERS)
        with self._store.read() as tx:
            return [_task(r) for r in tx.list_tasks(**filters, order=order, limit=limit, offset=offset)]

    def count_tasks(
        self,
        status: str | None = None,
        capability: str | None = None,
        *,
        search: str | None = None,
        poster_id: str | None = None,
        assigned_to: str | None = None,
    ) -> int:
        """How many tasks ``list_tasks`` would page through."""
        filters = self._task_filters(status, capability, search, poster_id, assigned_to)
        with self._store.read() as tx:
            return tx.count_tasks(**filters)

    @staticmethod
    def _task_filters(status: Any, capability: Any, search: Any, poster_id: Any, assigned_to: Any) -> dict[str, Any]:
        if status in (None, ""):
            status = None
        elif status not in TaskStatus.__members__.values():
            raise ValidationError("status", "status must be one of " + ", ".join(TaskStatus))
        return {
            "status": status,
            "capability": v.capability_filter(capability),
            "search": search or None,
            "poster_id": poster_id or None,
            "assigned_to": assigned_to or None,
        }

    def accept_task(self, task_id: str, agent_id: str) -> Task:
        """Assign an open task to ``agent_id``.

        Raises:
            NotFound; InvalidState (409) unless open; OwnTask (403) for the poster;
            MissingCapabilities (403) when the agent lacks a required capability.
        """
        now = self._now()
        with self._store.write() as tx:
            row = _found(tx.task_for_change(task_id, agent_id), "task", task_id)
            capabilities = _found(row["acceptor_capabilities"], "agent", agent_id)
            after = transition(Action.ACCEPT, row["kind"], row["status"])
            if row["poster_id"] == agent_id:
                raise OwnTask("an agent cannot accept its own task")
            task = _task(row, status=after, assigned_to=agent_id, updated_at=now)
            has = json.loads(capabilities)
            missing = [c for c in task.required_capabilities if c not in has]
            if missing:
                raise MissingCapabilities(
                    "the task needs capabilities this agent lacks: " + ", ".join(missing), missing=missing
                )
            tx.update_task(task_id, {"status": after, "assigned_to": agent_id, "updated_at": now})
            self._event(tx, "task.assigned", task_id, agent_id, now)
            self._notify_poster(tx, "task.assigned", task, row, now)
        return task

    def complete_task(self, task_id: str, agent_id: str, result: Any) -> Task:
        """Complete an assigned task: the assignee gets the budget less the fee, the platform the fee.

        Raises:
            ValidationError (empty or oversized result); NotFound; NotAssignee (403);
            InvalidState (409) unless assigned.
        """
        result = v.RESULT.validate({"result": result})["result"]
        now = self._now()
        with self._store.write() as tx:
            row = _found(tx.task_for_change(task_id), "task", task_id)
            after = transition(Action.COMPLETE, row["kind"], row["status"])
            if row["assigned_to"] != agent_id:
                raise NotAssignee("only the agent the task is assigned to can complete it")
            task = _task(row, status=after, result=result, escrow=0, updated_at=now)
            self._pay_out(tx, task, row["fee_percent"], now)
            tx.update_task(task_id, {"status": after, "result": result, "updated_at": now})
            self._event(tx, "task.completed", task_id, agent_id, now)
            self._notify_poster(tx, "task.completed", task, row, now)
        return task

    def cancel_task(self, task_id: str, agent_id: str) -> Task:
        """The poster withdraws an open task; its whole escrow goes back to the poster.

        Raises:
            NotFound; NotPoster (403); InvalidState (409) unless open.
        """
        now = self._now()
        with self._store.write() as tx:
            row = _found(tx.task_for_change(task_id), "task", task_id)
            if row["poster_id"] != agent_id:
                raise NotPoster("only the poster can cancel a task")
            after = transition(Action.CANCEL, row["kind"], row["status"])
            task = _task(row, status=after, escrow=0, updated_at=now)
            self._move(tx, acct.escrow(task_id), acct.wallet(agent_id), task.budget, acct.REFUND, task_id, now)
            tx.update_task(task_id, {"status": after, "updated_at": now})
            self._event(tx, "task.cancelled", task_id, agent_id, now)
            # Tell the agents that were told of the task that it is gone.
            receivers = tx.webhook_receivers(task.required_capabilities, agent_id)
            self._notify(tx, "task.cancelled", task, [r["id"] for r in receivers], now)
        return task

    def release_task(self, task_id: str, agent_id: str) -> Task:
        """The assignee gives an assigned task back; it is open again, its escrow still held.

        Raises:
            NotFound; NotAssignee (403); InvalidState (409) unless assigned (market tasks only).
        """
        now = self._now()
        with self._store.write() as tx:
            row = _found(tx.task_for_change(task_id), "task", task_id)
            after = transition(Action.RELEASE, row["kind"], row["status"])
            if row["assigned_to"] != agent_id:
                raise NotAssignee("only the agent the task is assigned to can release it")
            task = _task(row, status=after, assigned_to=None, updated_at=now)
            tx.update_task(task_id, {"status": after, "assigned_to": None, "updated_at": now})
            self._event(tx, "task.released", task_id, agent_id, now)
            self._notify_poster(tx, "task.released", task, row, now)
        return task

    def rate_task(self, task_id: str, agent_id: str, rating: Any) -> Task:
        """The poster rates a completed task once, 1–5; the assignee's reputation follows.

        Raises:
            ValidationError; NotFound; NotPoster (403); InvalidState (409) unless
            completed; AlreadyRated (409).
        """
        rating = v.RATING.validate({"rating": rating})["rating"]
        now = self._now()
        with self._store.write() as tx:
            row = _found(tx.task_for_change(task_id), "task", task_id)
            if row["poster_id"] != agent_id:
                raise NotPoster("only the poster can rate a task")
            transition(Action.RATE, row["kind"], row["status"])
            if row["rating"] is not None:
                raise AlreadyRated("this task has been rated already")
            tx.update_task(task_id, {"rating": rating, "updated_at": now})
            tx.add_rating(row["assigned_to"], rating)
            self._event(tx, "task.rated", task_id, agent_id, now, rating=rating)
        return _task(row, rating=rating, updated_at=now)

    def task_timeline(self, task_id: str) -> list[Event]:
        """What happened to a task, oldest first. Raises NotFound."""
        with self._store.read() as tx:
            _found(tx.task(task_id), "task", task_id)
            return [_event(r) for r in tx.task_events(task_id)]

    # -- direct execution (the ledger side; engine.outbound runs the agent) ---------
    def hire(self, caller_id: str, agent_id: Any, task_description: Any, budget: Any) -> Task:
        """Open a direct task assigned to ``agent_id`` and escrow its budget from the caller.

        The agent is then run outside any transaction, and the task settled with
        :meth:`finish_hire` or :meth:`fail_hire`.

        Raises:
            ValidationError (also for a budget under the agent's price); NotFound;
            SelfHire (403); AgentNotExecutable (400); InsufficientCredits (402).
        """
        data = v.EXECUTION.validate({"agent_id": agent_id, "task_description": task_description, "budget": budget})
        budget, description = data["budget"], data["task_description"]
        task_id = self._new_id()
        now = self._now()
        with self._store.write() as tx:
            target = _agent(_found(tx.agent(data["agent_id"]), "agent", data["agent_id"]))
            if target.id == caller_id:
                raise SelfHire("an agent cannot hire itself")
            if not target.executable:
                raise AgentNotExecutable(f"{target.name} has neither an endpoint_url nor a system_prompt")
            if budget < target.price_per_task:
                raise ValidationError("budget", f"budget must be at least {target.name}'s price of {target.price_per_task}")
            self._charge(tx, caller_id, budget, task_id, now)
            title = " ".join(description.split())
            title = title if len(title) <= 80 else title[:79] + "…"
            tx.insert_task({
                "id": task_id, "title": title or "Direct hire", "description": description, "budget": budget,
                "required_capabilities": "[]", "status": TaskStatus.ASSIGNED, "kind": "direct",
                "poster_id": caller_id, "assigned_to": target.id, "created_at": now, "updated_at": now,
            })
            self._event(tx, "task.hired", task_id, caller_id, now, agent_id=target.id, budget=budget)
            return _task(tx.task(task_id))

    def finish_hire(self, task_id: str, result: Any) -> Task:
        """Settle a direct task that produced ``result``: paid out as ``fees.split`` says, completed."""
        result = v.RESULT.validate({"result": result})["result"]
        now = self._now()
        with self._store.write() as tx:
            row = _found(tx.task_for_change(task_id), "task", task_id)
            after = transition(Action.SUCCEED, row["kind"], row["status"])
            task = _task(row, status=after, result=result, escrow=0, updated_at=now)
            self._pay_out(tx, task, row["fee_percent"], now)
            tx.update_task(task_id, {"status": after, "result": result, "updated_at": now})
            self._event(tx, "task.completed", task_id, task.assigned_to, now)
        return task

    def fail_hire(self, task_id: str, reason: str) -> Task:
        """Settle a direct task whose agent failed: status failed, whole escrow refunded."""
        now = self._now()
        with self._store.write() as tx:
            row = _found(tx.task_for_change(task_id), "task", task_id)
            after = transition(Action.FAIL, row["kind"], row["status"])
            task = _task(row, status=after, escrow=0, updated_at=now)
            self._move(tx, acct.escrow(task_id), acct.wallet(task.poster_id), task.budget, acct.REFUND, task_id, now)
            tx.update_task(task_id, {"status": after, "updated_at": now})
            self._event(tx, "task.failed", task_id, task.assigned_to, now, reason=reason[:500])
        return task

    def execute(self, caller_id: str, agent_id: Any, task_description: Any, budget: Any) -> Task:
        """Hire an agent directly and run it once (SPEC §6): escrow, run, then pay or refund.

        The agent runs outside any transaction: through its endpoint_url, or one Claude
        call with its system_prompt (``ANTHROPIC_API_KEY``, ``AGENTMARKET_MODEL``).

        Returns:
            The completed task with its result.

        Raises:
            Everything :meth:`hire` raises (nothing charged); AgentFailed (502) and
            LLMNotConfigured (503) with ``task_id`` after a refund.
        """
        from .outbound.execution import execute

        return execute(self, caller_id, agent_id, task_description, budget)

    # -- credits --------------------------------------------------------------------
    def balance(self, agent_id: str) -> int:
        """The agent's wallet balance. Raises NotFound."""
        with self._store.read() as tx:
            balance = tx.balance(acct.wallet(agent_id))
        if balance is None:
            raise NotFound(f"no agent with id {agent_id!r}")
        return balance

    def wallet(self, agent_id: str) -> Wallet:
        """Balance, credits held in escrow for the agent's open tasks, earned and spent."""
        with self._store.read() as tx:
            balance = tx.balance(acct.wallet(agent_id))
            if balance is None:
                raise NotFound(f"no agent with id {agent_id!r}")
            f = tx.wallet_figures(agent_id)
        spent = f["escrowed_ever"] - f["refunded"] - f["escrowed"]
        return Wallet(agent_id=agent_id, balance=balance, escrowed=f["escrowed"], earned=f["earned"], spent=spent)

    def transactions(self, agent_id: str, limit: Any = None, offset: Any = None) -> list[Transaction]:
        """The agent's wallet history, newest first, each with the balance after it."""
        limit, offset = v.page(limit, offset)
        wallet = acct.wallet(agent_id)
        with self._store.read() as tx:
            if tx.balance(wallet) is None:
                raise NotFound(f"no agent with id {agent_id!r}")
            rows = tx.wallet_transfers(agent_id, limit, offset)
        return [_transaction(r, wallet) for r in rows]

    def count_transactions(self, agent_id: str) -> int:
        """How many transfers touched the agent's wallet."""
        with self._store.read() as tx:
            return tx.count_wallet_transfers(agent_id)

    def grant(self, agent_id: str, credits: Any) -> int:
        """Issue ``credits`` new credits to an agent (operators, simulations). Returns the new balance."""
        credits = v.Field("credits", "integer", minimum=1, maximum=1_000_000_000).clean(credits)
        now = self._now()
        with self._store.write() as tx:
            _found(tx.agent(agent_id), "agent", agent_id)
            self._move(tx, acct.ISSUANCE, acct.wallet(agent_id), credits, acct.GRANT, None, now)
            self._event(tx, "credits.granted", None, agent_id, now, credits=credits)
            return tx.balance(acct.wallet(agent_id))

    # -- market-wide ----------------------------------------------------------------
    def stats(self) -> Stats:
        """Counts of agents and tasks, and where the credits are."""
        with self._store.read() as tx:
            totals = tx.ledger_totals()
            return Stats(
                agents=tx.count_agents(),
                tasks=tx.task_counts_by_status(),
                credits_issued=-totals.get("issuance", 0),
                credits_in_wallets=totals.get("wallet", 0),
                credits_in_escrow=totals.get("escrow", 0),
                fees_collected=totals.get("fees", 0),
                transfers=totals["transfers"],
            )

    def events(self, after: int = 0, limit: int = 100) -> list[Event]:
        """Market events with ``seq`` greater than ``after``, oldest first (for live feeds)."""
        with self._store.read() as tx:
            return [_event(r) for r in tx.events_after(after, max(1, min(limit, 1000)))]

    def recent_events(self, limit: int = 50) -> list[Event]:
        """The newest market events, newest first."""
        with self._store.read() as tx:
            return [_event(r) for r in tx.latest_events(max(1, min(limit, 1000)))]

    def verify_ledger(self) -> LedgerReport:
        """Check every invariant of SPEC §2 in one snapshot; report each with offending rows."""
        with self._store.read() as tx:
            total = tx.ledger_sum()
            checks = (
                Check("balanced", total == 0, "the sum of all account balances is 0",
                      () if total == 0 else ({"sum": total},)),
                _check("no_negative_balances", "no wallet, escrow or fee account is negative",
                       tx.negative_accounts()),
                _check("escrow_matches_budget", "a task's escrow equals its budget while open or assigned, else 0",
                       tx.escrow_mismatches() + tx.stray_escrows()),
                _check("cached_balances", "every cached balance equals the sum of its transfers",
                       tx.cached_balance_mismatches()),
                _check("wallets_have_agents", "every wallet belongs to an agent", tx.wallets_without_agents()),
            )
        return LedgerReport(checks=checks)

    # -- internals ------------------------------------------------------------------
    @staticmethod
    def _charge(tx: SQLiteTx, agent_id: str, amount: int, task_id: str, now: str) -> None:
        """Open the task's escrow with ``amount`` from the agent's wallet, or raise."""
        escrow = acct.escrow(task_id)
        tx.open_account(escrow, "escrow", agent_id)
        if tx.transfer(acct.wallet(agent_id), escrow, amount, acct.ESCROW, task_id, now):
            return
        balance = tx.balance(acct.wallet(agent_id))
        if balance is None:
            raise NotFound(f"no agent with id {agent_id!r}")
        raise InsufficientCredits(f"this needs {amount} credits and the wallet holds {balance}",
                                  balance=balance, needed=amount)

    @staticmethod
    def _move(tx: SQLiteTx, source: str, target: str, amount: int, kind: str, task_id: str | None, now: str) -> None:
        """A transfer the market's own rules guarantee is covered (escrow, issuance)."""
        if not tx.transfer(source, target, amount, kind, task_id, now):
            raise RuntimeError(f"ledger inconsistency: {source} cannot cover {amount} credits")

    @staticmethod
    def _pay_out(tx: SQLiteTx, task: Task, stored_fee_percent: str, now: str) -> None:
        """Move the escrow out: the worker's share and the fee, at the ``fee_percent`` setting as
        stored now (``TaskSQL.task_for_change`` reads it in the same transaction)."""
        pay, fee = fees.split(task.budget, json.loads(stored_fee_percent))
        parts = [(acct.wallet(task.assigned_to), pay, acct.PAYOUT), (acct.FEES, fee, acct.FEE)]
        if not tx.transfer_split(acct.escrow(task.id), parts, task.id, now):
            raise RuntimeError(f"ledger inconsistency: the escrow of {task.id} cannot cover {task.budget} credits")
        tx.count_completed(task.assigned_to)

    @staticmethod
    def _event(tx: SQLiteTx, type_: str, task_id: str | None, agent_id: str | None, now: str, /, **data: Any) -> None:
        tx.insert_event(type_, task_id, agent_id, now, json.dumps(data) if data else "{}")

    def _notify_poster(self, tx: SQLiteTx, event: str, task: Task, row: Mapping[str, Any], now: str) -> None:
        if row["poster_webhook"]:
            self._notify(tx, event, task, [task.poster_id], now)

    def _notify(self, tx: SQLiteTx, event: str, task: Task, agent_ids: Iterable[str], now: str) -> None:
        """Queue ``event`` in the webhook outbox for each agent that has a webhook URL."""
        payload: str | None = None
        for agent_id in agent_ids:
            row = tx.agent(agent_id)
            if row is None or not row["webhook_url"]:
                continue
            if payload is None:
                payload = webhook_payload(event, task, self.public_url)
            tx.enqueue_delivery({
                "id": self._new_id(), "event": event, "agent_id": agent_id, "task_id": task.id,
                "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": 0.0,
                "created_at": now, "updated_at": now,
            })


def webhook_payload(event: str, task: Task, marketplace_url: str) -> str:
    """The exact JSON body of a webhook, as the seed documents it for ``task.posted``."""
    body: dict[str, Any] = {
        "event": event,
        "task": {
            "id": task.id,
            "title": task.title,
            "description": task.description,
            "budget": task.budget,
            "required_capabilities": list(task.required_capabilities),
            "created_at": task.created_at,
        },
        "marketplace_url": marketplace_url,
    }
    if event != "task.posted":
        body["task"].update(status=task.status, poster_id=task.poster_id, assigned_to=task.assigned_to)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _money_setting(tx: SQLiteTx, name: str) -> int:
    # Read in the transaction that moves the credits, not from this process's Settings: a
    # change made through another process (or Market) applies to the very next operation.
    return json.loads(tx.setting(name))


def _found(row: Any, what: str, key: str) -> Any:
    if row is None:
        raise NotFound(f"no {what} with id {key!r}")
    return row


def _check_order(order: str, allowed: tuple[str, ...]) -> None:
    if order not in allowed:
        raise ValidationError("order", "order must be one of " + ", ".join(allowed))


def _check(name: str, description: str, offending: list[dict[str, Any]]) -> Check:
    return Check(name, not offending, description, tuple(offending))


def _agent(row: Mapping[str, Any]) -> Agent:
    return Agent(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        capabilities=tuple(json.loads(row["capabilities"])),
        price_per_task=row["price_per_task"],
        owner_email=row["owner_email"],
        endpoint_url=row["endpoint_url"],
        system_prompt=row["system_prompt"],
        webhook_url=row["webhook_url"],
        reputation_score=fees.reputation(row["rating_sum"], row["rating_count"]),
        rating_count=row["rating_count"],
        total_tasks=row["total_tasks"],
        created_at=row["created_at"],
    )


def _task(row: Mapping[str, Any], **changes: Any) -> Task:
    """The task in ``row`` (a ``TaskSQL`` row), with ``changes`` made to it."""
    values = {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "budget": row["budget"],
        "required_capabilities": tuple(json.loads(row["required_capabilities"])),
        "status": row["status"],
        "kind": row["kind"],
        "poster_id": row["poster_id"],
        "assigned_to": row["assigned_to"],
        "result": row["result"],
        "rating": row["rating"],
        "escrow": row["escrow"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if changes:
        values.update(changes)
    return Task(**values)


def _transaction(row: Mapping[str, Any], wallet: str) -> Transaction:
    outgoing = row["from_account"] == wallet
    return Transaction(
        id=row["id"],
        kind=row["kind"],
        amount=-row["amount"] if outgoing else row["amount"],
        balance_after=row["from_balance"] if outgoing else row["to_balance"],
        task_id=row["task_id"],
        counterparty=row["to_account"] if outgoing else row["from_account"],
        created_at=row["created_at"],
    )


def _event(row: Mapping[str, Any]) -> Event:
    return Event(
        seq=row["seq"],
        type=row["type"],
        task_id=row["task_id"],
        agent_id=row["agent_id"],
        created_at=row["created_at"],
        data=json.loads(row["data"]),
    )
