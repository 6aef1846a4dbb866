"""The market's schema, created and versioned through sqlite-utils.

Each migration is a function that takes a :class:`sqlite_utils.Database` and moves
the schema up by one version; ``PRAGMA user_version`` records how many have run.
Append new migrations to ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from ..errors import SchemaTooNew
from ..event_catalog import EVENT_TYPES
from ..validation import email_key
from ._accounts import ISSUANCE_KEY, is_escrow, key_of, kind_of
from .counters_sql import recount


def _transfers_append_only(db: Database) -> None:
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER transfers_append_only_{verb.lower()} BEFORE {verb} ON transfers"
            " BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END"
        )


_MOVE_BALANCES = (
    "CREATE TRIGGER transfers_move_balances AFTER INSERT ON transfers BEGIN"
    " UPDATE accounts SET balance = balance - NEW.amount WHERE id = NEW.from_account;"
    " UPDATE accounts SET balance = balance + NEW.amount WHERE id = NEW.to_account;"
    " END"
)
# Migration 21's: both balances by the accounts' integer keys (storage/_accounts.py).
_MOVE_BALANCES_BY_KEY = _MOVE_BALANCES.replace("WHERE id =", "WHERE key =")
# The task of a transfer x while accounts were named by text (migrations 17-20): its escrow's name.
_TRANSFER_TASK_BEFORE_21 = (
    "CASE WHEN x.from_account LIKE 'escrow:%' THEN substr(x.from_account, 8)"
    " WHEN x.to_account LIKE 'escrow:%' THEN substr(x.to_account, 8) END"
)
# Every trigger on transfers (migrations 17 and 20 make the table anew).
_TRANSFER_TRIGGERS = ("transfers_append_only_update", "transfers_append_only_delete", "transfers_move_balances",
                      "transfers_count_insert", "transfers_count_credits", "transfers_count_wallet_sums",
                      "transfers_count_escrow_released")
# The agent whose wallet each transfer touched, as the transfers table kept it before migration 17.
_WALLET_AGENTS_BEFORE_17 = "SELECT wallet_agent AS agent FROM transfers WHERE wallet_agent IS NOT NULL"
# The wallet view's sums as migration 13 counted them, from the transfers' columns of its day.
_WALLET_SUMS_BEFORE_17 = (
    " SELECT 'wallet_sum' AS kind, wallet_agent AS key, kind AS status, amount AS n FROM transfers"
    "  WHERE wallet_agent IS NOT NULL AND kind IN ('payout', 'escrow', 'refund')"
    " UNION ALL SELECT 'escrow_released', t.poster_id, '', x.amount FROM transfers x"
    "  JOIN tasks t ON t.id = x.task_id WHERE x.from_account = 'escrow:' || x.task_id"
)


def _m001_initial(db: Database) -> None:
    db["settings"].create({"key": str, "value": str}, pk="key")
    db["agents"].create(
        {
            "id": str,
            "name": str,
            "name_key": str,  # casefolded name: names are unique regardless of case
            "description": str,
            "capabilities": str,  # JSON list, in the order given
            "price_per_task": int,
            "owner_email": str,
            "endpoint_url": str,
            "system_prompt": str,
            "webhook_url": str,
            "webhook_secret": str,
            "api_key_hash": str,
            "rating_sum": int,
            "rating_count": int,
            "total_tasks": int,
            "created_at": str,
        },
        pk="id",
        not_null={"name", "name_key", "description", "capabilities", "price_per_task", "owner_email",
                  "api_key_hash", "rating_sum", "rating_count", "total_tasks", "created_at"},
        defaults={"description": "", "price_per_task": 0, "rating_sum": 0, "rating_count": 0, "total_tasks": 0},
    )
    db["agents"].create_index(["name_key"], unique=True)
    db["agents"].create_index(["api_key_hash"], unique=True)
    db.execute(
        "CREATE TABLE agent_capabilities (capability TEXT NOT NULL, agent_id TEXT NOT NULL"
        " REFERENCES agents(id), PRIMARY KEY (capability, agent_id)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX idx_agent_capabilities_agent ON agent_capabilities(agent_id)")

    db["tasks"].create(
        {
            "id": str,
            "title": str,
            "description": str,
            "budget": int,
            "required_capabilities": str,  # JSON list
            "status": str,
            "kind": str,
            "poster_id": str,
            "assigned_to": str,
            "result": str,
            "rating": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"title", "description", "budget", "required_capabilities", "status", "kind", "poster_id",
                  "created_at", "updated_at"},
        foreign_keys=[("poster_id", "agents", "id"), ("assigned_to", "agents", "id")],
    )
    # Listing open work is the hot query; other statuses are rarer and found by
    # scanning newest-first, so only open tasks are indexed (fewer pages per commit).
    db.execute("CREATE INDEX idx_tasks_open ON tasks(status) WHERE status = 'open'")
    db["tasks"].create_index(["poster_id"])
    db.execute("CREATE INDEX idx_tasks_assigned_to ON tasks(assigned_to) WHERE assigned_to IS NOT NULL")
    db.execute(
        "CREATE TABLE task_capabilities (capability TEXT NOT NULL, task_rowid INTEGER NOT NULL,"
        " PRIMARY KEY (capability, task_rowid)) WITHOUT ROWID"
    )

    # The ledger. sqlite-utils cannot declare CHECK constraints, and these are the last
    # line of defence for money, so the two ledger tables are plain SQL.
    db.execute(
        """CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('wallet', 'escrow', 'fees', 'issuance')),
            owner_id TEXT,
            balance INTEGER NOT NULL DEFAULT 0,
            CHECK (CASE kind WHEN 'issuance' THEN balance <= 0 ELSE balance >= 0 END)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE transfers (
            id INTEGER PRIMARY KEY,
            from_account TEXT NOT NULL REFERENCES accounts(id),
            to_account TEXT NOT NULL REFERENCES accounts(id),
            amount INTEGER NOT NULL CHECK (amount > 0),
            kind TEXT NOT NULL,
            task_id TEXT,
            wallet_agent TEXT,  -- the one agent whose wallet this touches, if any
            from_balance INTEGER NOT NULL,
            to_balance INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            CHECK (from_account != to_account)
        )"""
    )
    # Every kind of transfer touches at most one wallet (there are no wallet-to-wallet
    # transfers), so one partial index serves every wallet's history: one index page
    # written per transfer instead of two.
    db.execute("CREATE INDEX idx_transfers_wallet ON transfers(wallet_agent, id) WHERE wallet_agent IS NOT NULL")
    _transfers_append_only(db)

    db["events"].create(
        {"seq": int, "type": str, "task_id": str, "agent_id": str, "created_at": str, "data": str},
        pk="seq",
        not_null={"type", "created_at", "data"},
    )
    db.execute("CREATE INDEX idx_events_task ON events(task_id) WHERE task_id IS NOT NULL")

    # The webhook outbox: one row per (event, receiving agent), written in the same
    # transaction as the change that caused it.
    db["webhook_deliveries"].create(
        {
            "id": str,
            "event": str,
            "agent_id": str,
            "task_id": str,
            "payload": str,  # the exact body that is signed and sent
            "status": str,  # pending | delivered | failed
            "attempts": int,
            "next_attempt_at": float,  # unix seconds
            "last_status_code": int,
            "last_error": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"event", "agent_id", "payload", "status", "attempts", "next_attempt_at", "created_at",
                  "updated_at"},
        defaults={"attempts": 0},
    )
    db["webhook_deliveries"].create_index(["status", "next_attempt_at"])
    db["webhook_deliveries"].create_index(["agent_id"])
    db["webhook_attempts"].create(
        {
            "id": int,
            "delivery_id": str,
            "attempt": int,
            "status_code": int,
            "latency_ms": float,
            "error": str,
            "created_at": str,
        },
        pk="id",
        not_null={"delivery_id", "attempt", "created_at"},
    )
    db["webhook_attempts"].create_index(["delivery_id"])

    db["idempotency_keys"].create(
        {
            "agent_id": str,
            "key": str,
            "fingerprint": str,
            "state": str,  # running | done
            "status_code": int,
            "response": str,
            "created_at": str,
        },
        pk=("agent_id", "key"),
        not_null={"fingerprint", "state", "created_at"},
    )


def _m002_worker_leases(db: Database) -> None:
    # A named lease with an expiry: whoever holds "webhooks" is the one process that
    # delivers webhooks; a killed holder's lease simply runs out.
    db["worker_leases"].create({"name": str, "holder": str, "expires_at": float}, pk="name",
                               not_null={"holder", "expires_at"})


def _m003_balances_follow_transfers(db: Database) -> None:
    # The cached balances move inside the INSERT of each transfer: a transfer is one
    # statement, and no code path can record a transfer without moving the balances.
    db.execute(_MOVE_BALANCES)


def _m004_free_credits(db: Database) -> None:
    # SPEC §11. One registration grant per owner email: the casefolded email is the key, so
    # two registrations of one email racing in two processes cannot both insert it.
    db.execute(
        "CREATE TABLE granted_emails (email_key TEXT PRIMARY KEY, agent_id TEXT NOT NULL,"
        " granted_at TEXT NOT NULL) WITHOUT ROWID"
    )
    first_granted: dict[str, tuple[str, str]] = {}
    for agent_id, email, created_at in db.execute(
        "SELECT g.id, g.owner_email, g.created_at FROM agents g WHERE EXISTS (SELECT 1 FROM transfers t"
        " WHERE t.wallet_agent = g.id AND t.kind = 'grant') ORDER BY g.created_at, g.id"
    ).fetchall():
        first_granted.setdefault(email_key(email), (agent_id, created_at))
    db.conn.executemany("INSERT INTO granted_emails VALUES (?, ?, ?)",
                        [(key, agent_id, at) for key, (agent_id, at) in first_granted.items()])
    # Invite codes, stored only as hashes; a code is used once.
    db.execute(
        "CREATE TABLE invites (code_hash TEXT PRIMARY KEY, created_at TEXT NOT NULL, used_by TEXT,"
        " used_at TEXT) WITHOUT ROWID"
    )
    # Registrations per client address, for the per-address limit of every server on this file.
    db.execute("CREATE TABLE registration_origins (address TEXT NOT NULL, at REAL NOT NULL)")
    db.execute("CREATE INDEX idx_registration_origins ON registration_origins(address, at)")
    # Why an operator issued credits (`agentmarket grant --reason`), shown in wallet histories.
    db.execute("ALTER TABLE transfers ADD COLUMN memo TEXT")


def _m005_webhook_choices(db: Database) -> None:
    # What an agent's webhook subscribes to (a JSON list; NULL: the default), whether it is
    # told of every task, and the secret a rotation replaced, still signing until a time.
    for column, kind in (("webhook_events", "TEXT"), ("webhook_all_tasks", "INTEGER NOT NULL DEFAULT 0"),
                         ("webhook_previous_secret", "TEXT"), ("webhook_previous_until", "REAL")):
        db.execute(f"ALTER TABLE agents ADD COLUMN {column} {kind}")
    # Read on every post: the few agents that hear of every task.
    db.execute("CREATE INDEX idx_agents_all_tasks ON agents(id)"
               " WHERE webhook_all_tasks = 1 AND webhook_url IS NOT NULL")


def _m006_task_timers(db: Database) -> None:
    # SPEC §10: deadlines, claim windows, review and disputes. ``due_at`` is the time the
    # timer of the task's current status lapses (deadline, claim or review end): one
    # partial index finds every lapsed timer for a sweep.
    for column in ("deadline TEXT", "claim_seconds INTEGER NOT NULL DEFAULT 86400",
                   "review_hours INTEGER NOT NULL DEFAULT 0", "evaluator_id TEXT REFERENCES agents(id)",
                   "claim_expires_at TEXT", "submitted_at TEXT", "review_ends_at TEXT", "dispute_reason TEXT",
                   "worker_share INTEGER", "resolution_note TEXT", "due_at TEXT"):
        db.execute(f"ALTER TABLE tasks ADD COLUMN {column}")
    db.execute("CREATE INDEX idx_tasks_due ON tasks(due_at) WHERE due_at IS NOT NULL")
    db.execute("CREATE INDEX idx_tasks_evaluator ON tasks(evaluator_id) WHERE evaluator_id IS NOT NULL")
    for column in ("missed_claims", "disputes_lost"):
        db.execute(f"ALTER TABLE agents ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")


def _m007_previous_api_key(db: Database) -> None:
    # A rotated-out key keeps working for a short grace period, so a client whose
    # rotate-key answer was lost can retry (with its Idempotency-Key) and get the new key.
    db.execute("ALTER TABLE agents ADD COLUMN previous_key_hash TEXT")
    db.execute("ALTER TABLE agents ADD COLUMN previous_key_expires_at REAL")
    db.execute("CREATE INDEX idx_agents_previous_key_hash ON agents(previous_key_hash)"
               " WHERE previous_key_hash IS NOT NULL")


def _m008_name_keys_fold_look_alikes(db: Database) -> None:
    # Names became unique under NFKC and look-alike folding (validation.name_key), not case
    # alone. Existing agents get the new key; of two that now share one, the newer keeps
    # its name with a key of its own (its id appended), so nothing is lost and no new
    # look-alike of either can register.
    from ..validation import name_key

    agents = db.execute("SELECT id, name FROM agents ORDER BY rowid").fetchall()
    db.execute("UPDATE agents SET name_key = char(1) || id")  # out of the way of the new keys
    taken: set[str] = set()
    for agent_id, name in agents:
        key = name_key(name)
        if key in taken:
            key = f"{key}\x00{agent_id}"
        taken.add(key)
        db.execute("UPDATE agents SET name_key = ? WHERE id = ?", (key, agent_id))


def _add(rows: str) -> str:
    """One trigger statement adding n to the counter of each (kind, key, status, n) ``rows`` selects."""
    # "WHERE true" keeps SQLite's parser from reading ON CONFLICT as part of a join.
    return (f"INSERT INTO counters (kind, key, status, n) SELECT kind, key, status, n FROM ({rows}) WHERE true"
            " ON CONFLICT (kind, key, status) DO UPDATE SET n = n + excluded.n;")


def _bump(rows: str, sign: str) -> str:
    """One trigger statement adding ``sign``1 to the counter of each (kind, key, status) ``rows`` selects."""
    return _add(f"SELECT kind, key, status, {sign}1 AS n FROM ({rows})")


def _task_rows(row: str, capabilities: str = "") -> str:
    """The counters a task row (``NEW`` or ``OLD``) counts in (see storage/counters_sql.py), its
    capability rows found by ``capabilities`` (a condition on task_capabilities; by task_rowid if empty)."""
    return (
        f"SELECT 'tasks' AS kind, '' AS key, {row}.status AS status"
        f" UNION ALL SELECT 'poster', {row}.poster_id, {row}.status"
        f" UNION ALL SELECT 'involving', {row}.poster_id, {row}.status"
        f" UNION ALL SELECT 'assignee', {row}.assigned_to, {row}.status WHERE {row}.assigned_to IS NOT NULL"
        f" UNION ALL SELECT 'involving', {row}.assigned_to, {row}.status"
        f"  WHERE {row}.assigned_to IS NOT NULL AND {row}.assigned_to != {row}.poster_id"
        f" UNION ALL SELECT 'capability', capability, {row}.status FROM task_capabilities"
        f"  WHERE {capabilities or f'task_rowid = {row}.rowid'}"
    )


_AGENTS_ROW = "SELECT 'agents' AS kind, '' AS key, '' AS status"


# The credits each kind of account holds, for the stats: a transfer moves them.
_COUNT_CREDITS = (
    "AFTER INSERT ON transfers",
    _add("SELECT 'credits' AS kind, kind AS key, '' AS status, -NEW.amount AS n FROM accounts"
         " WHERE id = NEW.from_account")
    + _add("SELECT 'credits' AS kind, kind AS key, '' AS status, NEW.amount AS n FROM accounts"
           " WHERE id = NEW.to_account"),
)


def _m009_counters(db: Database) -> None:
    # SPEC §12: totals come from counters, never from counting rows per request. Triggers
    # keep them in the statement that changes a row, so every path (services, migrations,
    # tools writing SQL) keeps them right; statuses are counted by value, never listed.
    db.execute(
        "CREATE TABLE counters (kind TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,"
        " n INTEGER NOT NULL, PRIMARY KEY (kind, key, status)) WITHOUT ROWID"
    )
    triggers = {
        "tasks_count_insert": ("AFTER INSERT ON tasks", _bump(_task_rows("NEW"), "+")),
        "tasks_count_delete": ("AFTER DELETE ON tasks", _bump(_task_rows("OLD"), "-")),
        "tasks_count_update": (
            "AFTER UPDATE OF status, assigned_to, poster_id ON tasks WHEN OLD.status IS NOT NEW.status"
            " OR OLD.assigned_to IS NOT NEW.assigned_to OR OLD.poster_id IS NOT NEW.poster_id",
            _bump(_task_rows("OLD"), "-") + _bump(_task_rows("NEW"), "+"),
        ),
        "task_capabilities_count_insert": (
            "AFTER INSERT ON task_capabilities",
            _bump("SELECT 'capability' AS kind, NEW.capability AS key, status FROM tasks WHERE rowid = NEW.task_rowid",
                  "+"),
        ),
        "task_capabilities_count_delete": (
            "AFTER DELETE ON task_capabilities",
            _bump("SELECT 'capability' AS kind, OLD.capability AS key, status FROM tasks WHERE rowid = OLD.task_rowid",
                  "-"),
        ),
        "agents_count_insert": ("AFTER INSERT ON agents", _bump(_AGENTS_ROW, "+")),
        "agents_count_delete": ("AFTER DELETE ON agents", _bump(_AGENTS_ROW, "-")),
        "agent_capabilities_count_insert": (
            "AFTER INSERT ON agent_capabilities",
            _bump("SELECT 'agent_capability' AS kind, NEW.capability AS key, '' AS status", "+"),
        ),
        "agent_capabilities_count_delete": (
            "AFTER DELETE ON agent_capabilities",
            _bump("SELECT 'agent_capability' AS kind, OLD.capability AS key, '' AS status", "-"),
        ),
        "transfers_count_insert": (
            "AFTER INSERT ON transfers WHEN NEW.wallet_agent IS NOT NULL",
            _bump("SELECT 'transfers' AS kind, NEW.wallet_agent AS key, '' AS status", "+"),
        ),
        "transfers_count_credits": _COUNT_CREDITS,
    }
    for name, (when, body) in triggers.items():
        db.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    db.execute(f"INSERT INTO counters (kind, key, status, n) {recount(_WALLET_AGENTS_BEFORE_17)}")


def _m010_list_indexes(db: Database) -> None:
    # SPEC §12: every documented filter x order of the lists reads an index, never a scan
    # (tests/engine/test_query_plans.py holds this). A status of any value, not only open,
    # walks tasks newest first from its index; budget orders read budget indexes.
    db.execute("DROP INDEX IF EXISTS idx_tasks_open")
    db.execute("CREATE INDEX idx_tasks_status ON tasks(status)")
    db.execute("CREATE INDEX idx_tasks_status_budget ON tasks(status, budget)")
    db.execute("CREATE INDEX idx_tasks_budget ON tasks(budget)")
    db.execute("CREATE INDEX idx_agents_reputation ON agents((rating_count = 0),"
               " CAST(rating_sum AS REAL) / MAX(rating_count, 1) DESC)")
    db.execute("CREATE INDEX idx_agents_price ON agents(price_per_task)")
    db.execute("CREATE INDEX idx_agents_total_tasks ON agents(total_tasks)")


def _m011_search(db: Database) -> None:
    # SPEC §12: full-text search of tasks (title, description) and agents (name, description).
    # External-content FTS5 tables (the text is stored once, in tasks/agents), trigram-tokenized
    # so a search is a substring in any case, as it was with LIKE; triggers keep them in step.
    for table, columns in (("tasks", ("title", "description")), ("agents", ("name", "description"))):
        fts, names = f"{table}_fts", ", ".join(columns)
        new = ", ".join(f"NEW.{c}" for c in columns)
        old = ", ".join(f"OLD.{c}" for c in columns)
        db.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='rowid',"
                   " tokenize='trigram')")
        add = f"INSERT INTO {fts} (rowid, {names}) VALUES (NEW.rowid, {new});"
        remove = f"INSERT INTO {fts} ({fts}, rowid, {names}) VALUES ('delete', OLD.rowid, {old});"
        db.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {add} END")
        db.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {remove} END")
        db.execute(f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} BEGIN {remove} {add} END")
        db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")


def _m012_key_generation(db: Database) -> None:
    # Issue 14: servers cache which agent a key belongs to; any change of any agent's keys
    # bumps this one number, read in each request's snapshot, so a rotated key stops
    # working at once in every process on the file.
    db.execute("CREATE TABLE key_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)")
    db.execute("INSERT INTO key_generation VALUES (1, 0)")
    db.execute("CREATE TRIGGER agents_key_generation AFTER UPDATE OF api_key_hash, previous_key_hash,"
               " previous_key_expires_at ON agents BEGIN UPDATE key_generation SET n = n + 1; END")
    db.execute("CREATE TRIGGER agents_key_generation_delete AFTER DELETE ON agents"
               " BEGIN UPDATE key_generation SET n = n + 1; END")


def _m013_wallet_sums(db: Database) -> None:
    # Issue 14: the wallet view read every transfer and task of the agent on each request;
    # now it reads counters that the transfers keep (see storage/counters_sql.py).
    escrow_out = "NEW.task_id IS NOT NULL AND NEW.from_account = 'escrow:' || NEW.task_id"
    db.execute(
        "CREATE TRIGGER transfers_count_wallet_sums AFTER INSERT ON transfers WHEN NEW.wallet_agent IS NOT NULL"
        " AND NEW.kind IN ('payout', 'escrow', 'refund') BEGIN "
        + _add("SELECT 'wallet_sum' AS kind, NEW.wallet_agent AS key, NEW.kind AS status, NEW.amount AS n")
        + " END")
    db.execute(
        f"CREATE TRIGGER transfers_count_escrow_released AFTER INSERT ON transfers WHEN {escrow_out} BEGIN "
        + _add("SELECT 'escrow_released' AS kind, poster_id AS key, '' AS status, NEW.amount AS n FROM tasks"
               " WHERE id = NEW.task_id")
        + " END")
    # Migration 9 may have filled them already (it recounts everything): start from nothing.
    db.execute("DELETE FROM counters WHERE kind IN ('wallet_sum', 'escrow_released')")
    db.execute(f"INSERT INTO counters (kind, key, status, n) SELECT kind, key, status, SUM(n) FROM ({_WALLET_SUMS_BEFORE_17})"
               " GROUP BY kind, key, status")


def _m014_task_capabilities_by_task(db: Database) -> None:
    # The counters' triggers find a task's capabilities by task_rowid on every insert and
    # status change; the primary key leads with the capability, so that was a scan of every
    # task's capabilities (a post cost ~2.4 ms at 12,500 tasks, 0.8 ms with this index).
    db.execute("CREATE INDEX IF NOT EXISTS idx_task_capabilities_task ON task_capabilities(task_rowid)")


def _m015_budget_low_index(db: Database) -> None:
    # SPEC §12: budget_low (lowest first, newest first among equal budgets) in one direction,
    # so a page after a cursor seeks an index instead of sorting a budget's ties: neg_budget
    # is -budget (virtual: no bytes in the table), indexed alone and after the status.
    db.execute("ALTER TABLE tasks ADD COLUMN neg_budget INTEGER GENERATED ALWAYS AS (-budget) VIRTUAL")
    db.execute("CREATE INDEX idx_tasks_neg_budget ON tasks(neg_budget)")
    db.execute("CREATE INDEX idx_tasks_status_neg_budget ON tasks(status, neg_budget)")


def _m016_compact_events(db: Database) -> None:
    # Leaner rows (SPEC §12): an event was about 185 bytes with its index, mostly two UUIDs as
    # text, its type and its time. Now the type is a small code (table event_types), the task
    # and agent are their tables' rowids, the time is unix seconds and empty data is NULL:
    # about 45 bytes. storage/events_sql.py turns them back into the same Event records.
    db.execute("CREATE TABLE event_types (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
    db.conn.executemany("INSERT INTO event_types (name) VALUES (?)", [(name,) for name in EVENT_TYPES])
    db.execute("INSERT OR IGNORE INTO event_types (name) SELECT DISTINCT type FROM events")
    db.execute("ALTER TABLE events RENAME TO events_before_16")
    db.execute("DROP INDEX idx_events_task")
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, type INTEGER NOT NULL REFERENCES event_types(code),"
        " task INTEGER, agent INTEGER, at INTEGER NOT NULL, data TEXT)"  # task, agent: rowids; data NULL: {}
    )
    db.execute(
        "INSERT INTO events (seq, type, task, agent, at, data)"
        " SELECT e.seq, y.code, t.rowid, a.rowid, unixepoch(e.created_at), NULLIF(e.data, '{}')"
        " FROM events_before_16 e JOIN event_types y ON y.name = e.type"
        " LEFT JOIN tasks t ON t.id = e.task_id LEFT JOIN agents a ON a.id = e.agent_id"
    )
    lost = db.execute(
        "SELECT count(*) FROM events_before_16 e JOIN events n ON n.seq = e.seq WHERE (e.task_id IS NULL) !="
        " (n.task IS NULL) OR (e.agent_id IS NULL) != (n.agent IS NULL) OR n.at IS NULL"
    ).fetchone()[0]
    if lost:
        raise RuntimeError(f"{lost} events name a task or agent that does not exist, or a time that cannot be read")
    db.execute("DROP TABLE events_before_16")
    db.execute("CREATE INDEX idx_events_task ON events(task) WHERE task IS NOT NULL")


def _transfers_table(account: str) -> str:
    """CREATE TABLE transfers as migrations 17 and 20 make it, both accounts' columns ``account``."""
    return f"""CREATE TABLE transfers (
            id INTEGER PRIMARY KEY,
            from_account {account},
            to_account {account},
            amount INTEGER NOT NULL CHECK (amount > 0),
            kind TEXT NOT NULL,
            wallet INTEGER,  -- the rowid of the one agent whose wallet this touches, if any
            from_balance INTEGER NOT NULL,
            to_balance INTEGER NOT NULL,
            at INTEGER NOT NULL,  -- unix seconds
            memo TEXT,
            CHECK (from_account != to_account)
        )"""


def _m017_compact_transfers(db: Database) -> None:
    # Leaner rows (SPEC §12): a transfer was about 230 bytes with its index. Its task_id is
    # dropped (every task's transfer has the task's escrow on one side: ledger_sql derives
    # it), the wallet's agent is the agent's rowid, the time is unix seconds, and the
    # wallet index is (wallet) alone (the rowid, the transfer's id, follows in every index).
    # Rows, ids, amounts and balances are copied as they were; verify_ledger reads the same.
    db.execute("ALTER TABLE transfers RENAME TO transfers_before_17")
    for name in _TRANSFER_TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("DROP INDEX idx_transfers_wallet")
    db.execute(_transfers_table("TEXT NOT NULL REFERENCES accounts(id)"))
    db.execute(
        "INSERT INTO transfers (id, from_account, to_account, amount, kind, wallet, from_balance, to_balance, at, memo)"
        " SELECT x.id, x.from_account, x.to_account, x.amount, x.kind, g.rowid, x.from_balance, x.to_balance,"
        " unixepoch(x.created_at), x.memo FROM transfers_before_17 x LEFT JOIN agents g ON g.id = x.wallet_agent"
    )
    lost = db.execute(
        f"SELECT count(*) FROM transfers_before_17 x JOIN transfers n ON n.id = x.id WHERE x.task_id IS NOT"
        f" ({_TRANSFER_TASK_BEFORE_21.replace('x.', 'n.')}) OR (x.wallet_agent IS NULL) != (n.wallet IS NULL) OR n.at IS NULL"
    ).fetchone()[0]
    if lost:
        raise RuntimeError(f"{lost} transfers name a task or wallet this schema cannot derive, or an unreadable time")
    db.execute("DROP TABLE transfers_before_17")
    db.execute("CREATE INDEX idx_transfers_wallet ON transfers(wallet) WHERE wallet IS NOT NULL")
    _transfers_append_only(db)
    db.execute(_MOVE_BALANCES)
    db.execute(f"CREATE TRIGGER transfers_count_credits {_COUNT_CREDITS[0]} BEGIN {_COUNT_CREDITS[1]} END")
    _wallet_counters(db)
    released = _add("SELECT 'escrow_released' AS kind, poster_id AS key, '' AS status, NEW.amount AS n FROM tasks"
                    f" WHERE id = substr(NEW.from_account, {len('escrow:') + 1})")
    db.execute("CREATE TRIGGER transfers_count_escrow_released AFTER INSERT ON transfers"
               f" WHEN NEW.from_account LIKE 'escrow:%' BEGIN {released} END")


def _wallet_counters(db: Database) -> None:
    """The triggers of the wallet counters over column ``wallet`` (migrations 17 and 20)."""
    count = _bump("SELECT 'transfers' AS kind, id AS key, '' AS status FROM agents WHERE rowid = NEW.wallet", "+")
    db.execute(f"CREATE TRIGGER transfers_count_insert AFTER INSERT ON transfers WHEN NEW.wallet IS NOT NULL"
               f" BEGIN {count} END")
    # Migration 13's wallet sums, over the new columns (counters_sql.WALLET_SUMS recounts them).
    wallet_sum = _add("SELECT 'wallet_sum' AS kind, id AS key, NEW.kind AS status, NEW.amount AS n FROM agents"
                      " WHERE rowid = NEW.wallet")
    db.execute("CREATE TRIGGER transfers_count_wallet_sums AFTER INSERT ON transfers WHEN NEW.wallet IS NOT NULL"
               f" AND NEW.kind IN ('payout', 'escrow', 'refund') BEGIN {wallet_sum} END")


_WEBHOOKS_ROW = "SELECT 'webhooks' AS kind, '' AS key, '' AS status"


def _m018_webhook_counter(db: Database) -> None:
    # How many agents have a webhook URL, kept by the statement that sets or clears one:
    # a post reads it (one row) before looking for the agents to tell, usually none.
    has = "{row}.webhook_url IS NOT NULL"
    triggers = {
        "agents_count_webhook_insert": (f"AFTER INSERT ON agents WHEN {has.format(row='NEW')}",
                                        _bump(_WEBHOOKS_ROW, "+")),
        "agents_count_webhook_delete": (f"AFTER DELETE ON agents WHEN {has.format(row='OLD')}",
                                        _bump(_WEBHOOKS_ROW, "-")),
        "agents_count_webhook_set": (
            f"AFTER UPDATE OF webhook_url ON agents WHEN {has.format(row='NEW')} AND NOT {has.format(row='OLD')}",
            _bump(_WEBHOOKS_ROW, "+")),
        "agents_count_webhook_clear": (
            f"AFTER UPDATE OF webhook_url ON agents WHEN {has.format(row='OLD')} AND NOT {has.format(row='NEW')}",
            _bump(_WEBHOOKS_ROW, "-")),
    }
    for name, (when, body) in triggers.items():
        db.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    # Migration 9 may have counted them already (its RECOUNT names them now): count afresh.
    db.execute("DELETE FROM counters WHERE kind = 'webhooks'")
    db.execute(f"INSERT INTO counters (kind, key, status, n) SELECT kind, key, status, COUNT(*) FROM"
               f" ({_WEBHOOKS_ROW} FROM agents WHERE webhook_url IS NOT NULL) GROUP BY kind, key, status")


def _m019_delivery_claims(db: Database) -> None:
    # Who claimed a delivery (kept after it settles: who attempted it last) and until when
    # the claim holds (NULL once settled), so processes sharing a market claim each delivery
    # for themselves. The partial index finds an agent's live claims (a handful of rows).
    db.execute("ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE webhook_deliveries ADD COLUMN claimed_until REAL")
    db.execute(_CLAIMED_INDEX)


#: Shared with PostgreSQL's migration 10.
_CLAIMED_INDEX = ("CREATE INDEX idx_webhook_deliveries_claimed ON webhook_deliveries(agent_id)"
                  " WHERE claimed_until IS NOT NULL")


def _m020_capability_budget(db: Database) -> None:
    # SPEC §12: a capability in a budget order walked the budget index and probed each task's
    # capabilities (every task of the top budgets when the capability had none of them). Each
    # task's capability row now carries the task's budget (set once: a budget never changes),
    # indexed in both budget orders, so the walk reads the capability's own tasks in order
    # (budget_low over neg_budget, as migration 15: a cursor's row value then seeks the index).
    db.execute("ALTER TABLE task_capabilities ADD COLUMN budget INTEGER")
    db.execute("ALTER TABLE task_capabilities ADD COLUMN neg_budget INTEGER GENERATED ALWAYS AS (-budget) VIRTUAL")
    db.execute("UPDATE task_capabilities SET budget = (SELECT budget FROM tasks WHERE rowid = task_rowid)")
    lost = db.execute("SELECT count(*) FROM task_capabilities WHERE budget IS NULL").fetchone()[0]
    if lost:
        raise RuntimeError(f"{lost} task capabilities name a task that does not exist")
    db.execute("CREATE INDEX idx_task_capabilities_budget ON task_capabilities(capability, budget, task_rowid)")
    db.execute("CREATE INDEX idx_task_capabilities_neg_budget ON task_capabilities(capability, neg_budget, task_rowid)")


def _m021_account_keys(db: Database) -> None:
    # Leaner rows (SPEC §12): an account was named by text ("wallet:<uuid>", "escrow:<uuid>"),
    # twice in each transfer and once more, with its owner, in accounts: about 330 bytes of a
    # lifecycle. Now an account is an integer key, its owner's rowid * 4 plus its kind's code
    # (storage/_accounts.py): kind and owner are read off the key, so accounts hold only the
    # key and the balance. Ids, amounts, balances and times are copied as they were, and the
    # copy is checked: every account and both sides of every transfer found their key.
    for name in _TRANSFER_TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("DROP INDEX idx_transfers_wallet")
    db.execute("ALTER TABLE transfers RENAME TO transfers_before_21")
    db.execute("ALTER TABLE accounts RENAME TO accounts_before_21")
    db.execute(
        "CREATE TABLE accounts (key INTEGER PRIMARY KEY, balance INTEGER NOT NULL DEFAULT 0,"
        f" CHECK (CASE key WHEN {ISSUANCE_KEY} THEN balance <= 0 ELSE balance >= 0 END))"
    )
    db.execute("CREATE TEMP TABLE account_keys (id TEXT PRIMARY KEY, key INTEGER) WITHOUT ROWID")
    db.execute(f"INSERT INTO temp.account_keys SELECT a.id, {key_of('a.id')} FROM accounts_before_21 a")
    lost = db.execute(f"SELECT count(*) FROM accounts_before_21 a JOIN temp.account_keys k ON k.id = a.id"
                      f" WHERE k.key IS NULL OR {kind_of('k.key')} != a.kind").fetchone()[0]
    if lost:
        raise RuntimeError(f"{lost} accounts belong to no agent or task of their kind")
    db.execute("INSERT INTO accounts (key, balance) SELECT k.key, a.balance FROM accounts_before_21 a"
               " JOIN temp.account_keys k ON k.id = a.id ORDER BY k.key")
    db.execute(_transfers_table("INTEGER NOT NULL REFERENCES accounts(key)"))
    db.execute(
        "INSERT INTO transfers (id, from_account, to_account, amount, kind, wallet, from_balance, to_balance, at, memo)"
        " SELECT x.id, f.key, t.key, x.amount, x.kind, x.wallet, x.from_balance, x.to_balance, x.at, x.memo"
        " FROM transfers_before_21 x JOIN temp.account_keys f ON f.id = x.from_account"
        " JOIN temp.account_keys t ON t.id = x.to_account ORDER BY x.id"
    )
    lost = db.execute("SELECT (SELECT count(*) FROM transfers_before_21) - (SELECT count(*) FROM transfers)"
                      ).fetchone()[0]
    if lost:
        raise RuntimeError(f"{lost} transfers name an account that does not exist")
    db.execute("DROP TABLE transfers_before_21")
    db.execute("DROP TABLE accounts_before_21")
    db.execute("DROP TABLE temp.account_keys")
    db.execute("CREATE INDEX idx_transfers_wallet ON transfers(wallet) WHERE wallet IS NOT NULL")
    _transfers_append_only(db)
    db.execute(_MOVE_BALANCES_BY_KEY)
    credits = (_add(f"SELECT 'credits' AS kind, {kind_of('NEW.from_account')} AS key, '' AS status, -NEW.amount AS n")
               + _add(f"SELECT 'credits' AS kind, {kind_of('NEW.to_account')} AS key, '' AS status, NEW.amount AS n"))
    db.execute(f"CREATE TRIGGER transfers_count_credits AFTER INSERT ON transfers BEGIN {credits} END")
    _wallet_counters(db)
    released = _add("SELECT 'escrow_released' AS kind, poster_id AS key, '' AS status, NEW.amount AS n FROM tasks"
                    " WHERE rowid = NEW.from_account / 4")
    db.execute("CREATE TRIGGER transfers_count_escrow_released AFTER INSERT ON transfers"
                f" WHEN {is_escrow('NEW.from_account')} BEGIN {released} END")


def _m022_agent_id_suffix_indexes(db: Database) -> None:
    # Leaner rows (SPEC §12): a task's poster and assignee indexes held each whole id (36 bytes
    # of text, about 50 bytes an entry). They now hold the ids' last 8 characters (UUIDv7 ends
    # in random bits: ids sharing them are rare, and the query compares the whole id after;
    # storage/tasks_sql.by_agent), about 20 bytes an entry.
    db.execute("DROP INDEX idx_tasks_poster_id")
    db.execute("DROP INDEX idx_tasks_assigned_to")
    db.execute("CREATE INDEX idx_tasks_poster ON tasks(substr(poster_id, 29))")
    db.execute("CREATE INDEX idx_tasks_assignee ON tasks(substr(assigned_to, 29)) WHERE assigned_to IS NOT NULL")


def _m023_derived_event_data(db: Database) -> None:
    # Leaner rows (SPEC §12): a posted event repeated its task's title and budget (about 45 bytes)
    # and a rated one its rating. Their data is now NULL where it equals the task's fields, which
    # never change afterwards; storage/events_sql.py reads it back from the task. Data that does
    # not equal them stays as it is, and an empty one becomes '{}' (NULL now means "the task's").
    for name, fields in (("task.posted", ("title", "budget")), ("task.rated", ("rating",))):
        code = db.execute("SELECT code FROM event_types WHERE name = ?", (name,)).fetchone()[0]
        db.execute("UPDATE events SET data = '{}' WHERE type = ? AND data IS NULL", (code,))
        same = " AND ".join(f"json_extract(e.data, '$.{f}') IS t.{f}" for f in fields)
        db.execute(
            "UPDATE events SET data = NULL WHERE seq IN (SELECT e.seq FROM events e JOIN tasks t ON t.rowid = e.task"
            f" WHERE e.type = ? AND json_valid(e.data) AND {same}"
            f" AND (SELECT count(*) FROM json_each(e.data)) = {len(fields)})", (code,))


#: The codes of task_capabilities.status (migration 24; PostgreSQL's 16 the same): the commonest
#: statuses first, as 0 and 1 take no bytes in a record. Never renumbered: a status new to the
#: market gets the next code from the trigger that first meets it.
TASK_STATUS_CODES = ("completed", "open", "assigned", "submitted", "disputed", "cancelled", "expired", "refunded",
                     "failed")
#: SQL: the code of the status named by ``?`` (or by the expression substituted for it).
STATUS_CODE = "(SELECT code FROM task_statuses WHERE name = ?)"


def _capability_rows(row: str) -> str:
    """SQL: the condition selecting the task_capabilities rows of task ``row`` (``NEW`` or ``OLD``) by
    their primary key, through the task's own list of capabilities (migration 24 dropped the index by task)."""
    return f"capability IN (SELECT value FROM json_each({row}.required_capabilities)) AND task_rowid = {row}.rowid"


def _m024_capability_status(db: Database) -> None:
    # SPEC §12: a capability with a status walked the capability's index and checked each
    # task's status (every one of its tasks when none was in that status). Each capability row
    # now carries its task's status as a small code (table task_statuses), kept by a trigger on
    # the task's status change, and the capability's indexes lead with (capability, status):
    # rowid order has its own, the budget orders gain the status (a capability alone in a
    # budget order merges its statuses' walks, storage/tasks_sql.py). The index by task is
    # dropped (its lookups go through the task's JSON list and the primary key), so a lifecycle
    # grows by about the status codes' bytes, not by a new index.
    db.execute("CREATE TABLE task_statuses (name TEXT PRIMARY KEY, code INTEGER NOT NULL UNIQUE) WITHOUT ROWID")
    db.conn.executemany("INSERT INTO task_statuses (name, code) VALUES (?, ?)",
                        [(name, code) for code, name in enumerate(TASK_STATUS_CODES)])
    db.execute("INSERT OR IGNORE INTO task_statuses (name, code) SELECT status, (SELECT max(code) FROM task_statuses)"
               " + row_number() OVER (ORDER BY status) FROM (SELECT DISTINCT status FROM tasks)")
    db.execute("ALTER TABLE task_capabilities ADD COLUMN status INTEGER")
    db.execute("UPDATE task_capabilities SET status = (SELECT s.code FROM tasks t JOIN task_statuses s"
               " ON s.name = t.status WHERE t.rowid = task_rowid)")
    lost = db.execute("SELECT count(*) FROM task_capabilities WHERE status IS NULL").fetchone()[0]
    if lost:
        raise RuntimeError(f"{lost} task capabilities name a task that does not exist")
    unlisted = db.execute("SELECT count(*) FROM task_capabilities c JOIN tasks t ON t.rowid = c.task_rowid"
                          " WHERE c.capability NOT IN (SELECT value FROM json_each(t.required_capabilities))"
                          ).fetchone()[0]
    if unlisted:
        raise RuntimeError(f"{unlisted} task capabilities are missing from their task's list")
    for name in ("idx_task_capabilities_task", "idx_task_capabilities_budget", "idx_task_capabilities_neg_budget"):
        db.execute(f"DROP INDEX {name}")
    db.execute("CREATE INDEX idx_task_capabilities_status ON task_capabilities(capability, status, task_rowid)")
    db.execute("CREATE INDEX idx_task_capabilities_budget ON task_capabilities(capability, status, budget, task_rowid)")
    db.execute("CREATE INDEX idx_task_capabilities_neg_budget"
               " ON task_capabilities(capability, status, neg_budget, task_rowid)")
    # Migration 9's counter triggers, finding the capability rows without the dropped index.
    rows = {row: _task_rows(row, _capability_rows(row)) for row in ("NEW", "OLD")}
    for name in ("tasks_count_insert", "tasks_count_delete", "tasks_count_update"):
        db.execute(f"DROP TRIGGER {name}")
    triggers = {
        "tasks_count_insert": ("AFTER INSERT ON tasks", _bump(rows["NEW"], "+")),
        "tasks_count_delete": ("AFTER DELETE ON tasks", _bump(rows["OLD"], "-")),
        "tasks_count_update": (
            "AFTER UPDATE OF status, assigned_to, poster_id ON tasks WHEN OLD.status IS NOT NEW.status"
            " OR OLD.assigned_to IS NOT NEW.assigned_to OR OLD.poster_id IS NOT NEW.poster_id",
            _bump(rows["OLD"], "-") + _bump(rows["NEW"], "+"),
        ),
        "tasks_capability_status": (
            "AFTER UPDATE OF status ON tasks WHEN OLD.status IS NOT NEW.status",
            "INSERT OR IGNORE INTO task_statuses (name, code) SELECT NEW.status, max(code) + 1 FROM task_statuses;"
            f" UPDATE task_capabilities SET status = {STATUS_CODE.replace('?', 'NEW.status')}"
            f" WHERE {_capability_rows('NEW')};",
        ),
    }
    for name, (when, body) in triggers.items():
        db.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    # A search newest first walks FTS5's index backwards through each of its segments: the 13 a
    # market of 1 M tasks built up through the engine made it 6x slower than one (0.46 ms against
    # 0.08 at 1 M). Merged once here (about 5 s at 1 M); writes add segments again, slowly.
    for fts in ("tasks_fts", "agents_fts"):
        db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('optimize')")


#: What a posted task promises stays as posted: its text is fixed and the task is kept forever.
TASK_TEXT_FIXED = "a task's title and description never change"
TASK_KEPT = "tasks are never deleted"


def _m025_fixed_task_texts(db: Database) -> None:
    # A task is an offer that credits were escrowed against: its title and description are
    # what was offered, and the task stays on record. The schema holds both, so a search's
    # matches can only grow (storage/_search.py's CappedTexts relies on it).
    db.execute("CREATE TRIGGER tasks_text_fixed BEFORE UPDATE OF title, description ON tasks"
               " WHEN OLD.title IS NOT NEW.title OR OLD.description IS NOT NEW.description"
               f" BEGIN SELECT RAISE(ABORT, \"{TASK_TEXT_FIXED}\"); END")
    db.execute(f"CREATE TRIGGER tasks_kept BEFORE DELETE ON tasks BEGIN SELECT RAISE(ABORT, '{TASK_KEPT}'); END")


#: The size FTS5 fills its index's leaf pages to (its default is 4,050 bytes).
SEARCH_PAGE_BYTES = 1000


def _m026_small_search_pages(db: Database) -> None:
    # A search newest first walks FTS5's index backwards: for each of its trigrams FTS5 reverses
    # the doclist's last leaf page, parsing every entry on it first. Pages of 1,000 bytes hold a
    # quarter of the entries: a page of 20 at 1 M took 0.17 ms against 0.26 (a status filter's
    # 0.23 against 0.32), for 3 bytes a task. The size applies to pages written from now on, so
    # each index is rebuilt (about 15 s at 1 M) and merged back into one segment (about 4 s).
    for fts in ("tasks_fts", "agents_fts"):
        db.execute(f"INSERT INTO {fts} ({fts}, rank) VALUES ('pgsz', {SEARCH_PAGE_BYTES})")
        db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")
        db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('optimize')")


MIGRATIONS: list[Callable[[Database], None]] = [
    _m001_initial, _m002_worker_leases, _m003_balances_follow_transfers, _m004_free_credits, _m005_webhook_choices,
    _m006_task_timers, _m007_previous_api_key, _m008_name_keys_fold_look_alikes, _m009_counters,
    _m010_list_indexes, _m011_search, _m012_key_generation,
    _m013_wallet_sums, _m014_task_capabilities_by_task, _m015_budget_low_index, _m016_compact_events,
    _m017_compact_transfers, _m018_webhook_counter, _m019_delivery_claims, _m020_capability_budget,
    _m021_account_keys, _m022_agent_id_suffix_indexes, _m023_derived_event_data, _m024_capability_status,
    _m025_fixed_task_texts, _m026_small_search_pages,
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Database) -> int:
    """Run the migrations this database has not had yet, each in its own transaction.

    Returns:
        The schema version now.

    Raises:
        SchemaTooNew: the file was made by a newer AgentMarket.
    """
    conn = db.conn
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(f"the market file has schema version {current}, newer than this AgentMarket's "
                           f"{SCHEMA_VERSION}; upgrade AgentMarket to open it")
    for version, migration in enumerate(MIGRATIONS, start=1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Read inside the write lock so two processes opening a new file at
            # once cannot both run the same migration.
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current < version:
                migration(db)
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return conn.execute("PRAGMA user_version").fetchone()[0]
