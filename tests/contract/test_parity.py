"""Every client behaviour gives the same answer over a socket and in-process, and the expected one.

One scenario walks through everything the terminal app and the CLI do; :func:`Log` records
each step's outcome (a record as plain data, or an error as its class, code, message and
field). The two transports' logs must be identical, step for step.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentmarket_tui.client import MarketClient, NoIdentity
from engine.errors import MarketError
from engine.queries import AgentOrder, Page, TaskOrder
from engine.server import MAX_BODY_BYTES
from engine.states import TaskStatus
from tests.outbound.servers import LoopbackServer

from .conftest import TRANSPORTS, Connect, run_on_both


def plain(value: Any) -> Any:
    """A step's outcome as comparable plain data (records by their fields and type)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if fields.get("next_cursor") is not None:  # signed with each market's own secret: opaque
            fields["next_cursor"] = "<cursor>"
        return {"type": type(value).__name__, **fields}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def failure(exc: MarketError) -> dict[str, Any]:
    return {"error": type(exc).__name__, "code": exc.code, "status": exc.status, "message": exc.message,
            "field": exc.field, "details": exc.details}


class Log:
    """Runs steps, keeping each outcome under its label."""

    def __init__(self) -> None:
        self.steps: dict[str, Any] = {}

    def __call__(self, label: str, step: Callable[[], Any]) -> Any:
        assert label not in self.steps, label
        try:
            result = step()
        except MarketError as exc:
            self.steps[label] = failure(exc)
            return None
        self.steps[label] = plain(result)
        return result


def _walk(fetch: Callable[[str | None], Page[Any]]) -> list[Any]:
    """Every page of a list by its cursors: the pages' items and cursors, to compare whole."""
    pages, cursor = [], None
    while True:
        page = fetch(cursor)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def everything(connect: Connect, endpoint_url: str) -> dict[str, Any]:
    """The whole client surface on a fresh market; returns the log of outcomes."""
    log = Log()
    anon, ann, bob, carl = connect(None), connect(None), connect(None), connect(None)

    # -- identity -------------------------------------------------------------------------------
    log("register ann", lambda: ann.register(name="Ann", capabilities=["writing", "coding"],
                                             owner_email="ann@example.com", price_per_task=5,
                                             description="Writes and codes"))
    log("register bob", lambda: bob.register(name="Bob", capabilities=["coding"], owner_email="bob@example.com",
                                             webhook_url="https://bob.example.com/hooks/agentmarket"))
    log("register carl", lambda: carl.register(name="Carl", capabilities=["research"],
                                               owner_email="carl@example.com"))
    log("register name taken", lambda: connect(None).register(name="Ann", capabilities=["x"],
                                                              owner_email="a2@example.com"))
    log("register invalid", lambda: connect(None).register(name="", capabilities=["Not A Slug"],
                                                           owner_email="nobody"))
    hired = connect(None).register(name="Hired", capabilities=["writing"], owner_email="h@example.com",
                                   price_per_task=5, endpoint_url=endpoint_url + "/ok")
    broken = connect(None).register(name="Broken", capabilities=["writing"], owner_email="b@example.com",
                                    price_per_task=5, endpoint_url=endpoint_url + "/fail")
    poet = connect(None).register(name="Poet", capabilities=["writing"], owner_email="p@example.com",
                                  price_per_task=5, system_prompt="You write poems.")
    assert ann.api_key and bob.api_key and carl.api_key
    log("me", ann.me)
    log("me as nobody", anon.me)
    log("update me", lambda: ann.update_me(description="Now described", price_per_task=7))
    log("update me invalid", lambda: ann.update_me(price_per_task=-1))
    log("update me to a taken name", lambda: bob.update_me(name="Ann"))
    old_key = carl.api_key
    log("rotate key", carl.rotate_key)
    log("rotated key works", carl.me)
    log("old key in its grace period", lambda: connect(None).use_key(old_key))
    switcher = connect(None)
    log("use key", lambda: switcher.use_key(bob.api_key))
    log("use a wrong key", lambda: switcher.use_key("f" * 64))
    log("still the previous agent", switcher.me)
    log("use no key", lambda: switcher.use_key(None))
    log("api key after none", lambda: switcher.api_key)
    log("a wrong key acts", lambda: connect("0" * 64).wallet())

    # -- tasks ----------------------------------------------------------------------------------
    posted = {}
    for name, budget, caps in (("Fix the parser", 30, ["coding"]), ("Write the blurb", 10, ["writing"]),
                               ("Anything at all", 5, []), ("Port to Rust", 12, ["coding"])):
        posted[name] = log(f"post {name}", lambda n=name, b=budget, c=caps: ann.post_task(
            title=n, description=f"About {n.lower()}", budget=b, required_capabilities=c))
    fix, blurb, anything, port = (posted[n].id for n in posted)
    log("post beyond the wallet", lambda: ann.post_task(title="Too dear", description="", budget=10_000,
                                                        required_capabilities=[]))
    log("post invalid", lambda: ann.post_task(title="", description="", budget=0, required_capabilities=["x y"]))
    log("post as nobody", lambda: anon.post_task(title="T", description="", budget=1, required_capabilities=[]))
    log("accept without the capability", lambda: bob.accept_task(blurb))
    log("accept own task", lambda: ann.accept_task(fix))
    log("accept", lambda: bob.accept_task(fix))
    log("accept again", lambda: bob.accept_task(fix))
    log("complete by the poster", lambda: ann.complete_task(fix, "mine"))
    log("complete invalid", lambda: bob.complete_task(fix, ""))
    log("complete", lambda: bob.complete_task(fix, "Fixed: the parser now reads tabs."))
    log("rate by the worker", lambda: bob.rate_task(fix, 5))
    log("rate invalid", lambda: ann.rate_task(fix, 6))
    log("rate", lambda: ann.rate_task(fix, 4))
    log("rate again", lambda: ann.rate_task(fix, 3))
    log("cancel by another", lambda: bob.cancel_task(anything))
    log("cancel", lambda: ann.cancel_task(anything))
    log("accept a cancelled task", lambda: bob.accept_task(anything))
    log("accept to release", lambda: bob.accept_task(port))
    log("release by the poster", lambda: ann.release_task(port))
    log("release", lambda: bob.release_task(port))
    log("accept to fail big", lambda: bob.accept_task(port))
    log("complete with a body over the limit", lambda: bob.complete_task(port, "x" * (MAX_BODY_BYTES + 1)))
    log("complete an unknown task", lambda: bob.complete_task("00000000-0000-7000-8000-999999999999", "x"))

    for viewer_name, viewer in (("poster", ann), ("assignee", bob), ("another agent", carl), ("nobody", anon)):
        log(f"get task as {viewer_name}", lambda v=viewer: v.get_task(fix))
        log(f"list tasks as {viewer_name}", lambda v=viewer: v.list_tasks(status=TaskStatus.COMPLETED))
    log("get an unknown task", lambda: anon.get_task("00000000-0000-7000-8000-999999999999"))
    log("get a path-like id", lambda: anon.get_task("../../api/wallet"))
    log("timeline", lambda: anon.task_timeline(fix))
    log("timeline of an unknown task", lambda: anon.task_timeline("nope"))

    for status in (None, *TaskStatus):
        for order in TaskOrder:
            log(f"list tasks {status} {order}", lambda s=status, o=order: anon.list_tasks(status=s, order=o))
    log("list tasks by capability", lambda: anon.list_tasks(capability="coding"))
    log("list tasks by search", lambda: anon.list_tasks(search="THE"))
    log("list tasks, a page", lambda: anon.list_tasks(limit=2, offset=1, order=TaskOrder.BUDGET_LOW))
    log("list tasks past the end", lambda: anon.list_tasks(offset=100))
    log("list my posted tasks", lambda: ann.list_tasks(mine="posted"))
    log("list my assigned tasks", lambda: bob.list_tasks(mine="assigned"))
    log("list open assigned to me", lambda: bob.list_tasks(mine="assigned", status=TaskStatus.OPEN))
    log("list mine as nobody", lambda: anon.list_tasks(mine="posted"))
    log("my tasks as poster", ann.my_tasks)
    log("my tasks as assignee", bob.my_tasks)
    log("my tasks, open, a page", lambda: ann.my_tasks(status=TaskStatus.OPEN, limit=1, order=TaskOrder.OLDEST))
    log("my tasks, bad status", lambda: ann.my_tasks(status="lost"))
    log("my tasks as nobody", anon.my_tasks)
    log("list mine, unknown", lambda: ann.list_tasks(mine="theirs"))
    log("list tasks, bad limit", lambda: anon.list_tasks(limit=0))
    log("list tasks, bad status", lambda: anon.list_tasks(status="lost"))
    log("list tasks, bad order", lambda: anon.list_tasks(order="random"))
    log("list tasks, bad capability", lambda: anon.list_tasks(capability="Not A Slug"))
    for order in TaskOrder:
        log(f"walk tasks {order} by cursor",
            lambda o=order: _walk(lambda c: anon.list_tasks(order=o, limit=1, cursor=c)))
    log("walk my tasks by cursor", lambda: _walk(lambda c: ann.my_tasks(limit=1, cursor=c)))
    first = anon.list_tasks(limit=1)
    assert first.next_cursor is not None
    log("a cursor with other filters",
        lambda: anon.list_tasks(limit=1, status=TaskStatus.OPEN, cursor=first.next_cursor))
    log("a garbled cursor", lambda: anon.list_tasks(limit=1, status=TaskStatus.OPEN, cursor="garbled"))
    log("my tasks with another's cursor", lambda: bob.my_tasks(limit=1, cursor=ann.my_tasks(limit=1).next_cursor))

    # -- agents ---------------------------------------------------------------------------------
    for order in AgentOrder:
        log(f"list agents {order}", lambda o=order: anon.list_agents(order=o))
    log("list agents by capability", lambda: anon.list_agents(capability="writing"))
    log("list agents by search", lambda: anon.list_agents(search="o"))
    log("list agents, a page", lambda: anon.list_agents(limit=2, offset=2, order=AgentOrder.NAME))
    log("list agents, bad order", lambda: anon.list_agents(order="height"))
    for order in AgentOrder:
        log(f"walk agents {order} by cursor", lambda o=order: _walk(lambda c: anon.list_agents(order=o, limit=2,
                                                                                             cursor=c)))
    log("get agent as another", lambda: bob.get_agent(hired.agent.id))
    log("get agent as itself", lambda: ann.get_agent(ann.me().id))
    log("get an unknown agent", lambda: anon.get_agent("nope"))

    # -- hiring ---------------------------------------------------------------------------------
    log("execute", lambda: ann.execute(hired.agent.id, "Write a haiku", 10))
    log("execute a failing agent", lambda: ann.execute(broken.agent.id, "Write a haiku", 10))
    log("execute a prompt agent without a model", lambda: ann.execute(poet.agent.id, "A poem", 10))
    log("execute an agent without an endpoint", lambda: ann.execute(bob.me().id, "Code", 10))
    log("execute yourself", lambda: ann.execute(ann.me().id, "Me", 10))
    log("execute an unknown agent", lambda: ann.execute("00000000-0000-7000-8000-999999999999", "x", 10))
    log("execute beyond the wallet", lambda: carl.execute(hired.agent.id, "x", 10_000))
    log("execute below the price", lambda: ann.execute(hired.agent.id, "x", 1))
    log("execute as nobody", lambda: anon.execute(hired.agent.id, "x", 10))

    # -- credits, webhooks, the market ----------------------------------------------------------------
    for name, client in (("ann", ann), ("bob", bob), ("hired", connect(hired.api_key))):
        log(f"wallet {name}", client.wallet)
        log(f"transactions {name}", client.transactions)
    log("transactions, a page", lambda: ann.transactions(limit=2, offset=1))
    log("transactions, bad limit", lambda: ann.transactions(limit=500))
    log("walk transactions by cursor", lambda: _walk(lambda c: ann.transactions(limit=2, cursor=c)))
    log("transactions with another's cursor", lambda: bob.transactions(limit=1,
                                                                       cursor=ann.transactions(limit=1).next_cursor))
    log("wallet as nobody", anon.wallet)
    log("transactions as nobody", anon.transactions)
    log("webhook", bob.webhook)
    log("deliveries", bob.webhook_deliveries)
    log("deliveries, a few", lambda: bob.webhook_deliveries(limit=1))
    log("walk deliveries by cursor", lambda: _walk(lambda c: bob.webhook_deliveries(limit=1, cursor=c)))
    log("deliveries with another's cursor", lambda: ann.webhook_deliveries(
        limit=1, cursor=bob.webhook_deliveries(limit=1).next_cursor))
    log("set webhook", lambda: bob.set_webhook("https://bob.example.com/hooks/v2"))
    log("webhook after set", bob.webhook)
    log("set webhook invalid", lambda: bob.set_webhook("http://bob.example.com/plain-http"))
    log("choose webhook events", lambda: bob.change_webhook(events=["task.posted", "task.assigned"], all_tasks=True))
    log("choose an unknown event", lambda: bob.change_webhook(events=["task.exploded"]))
    log("rotate webhook secret", bob.rotate_webhook_secret)
    ping = log("ping webhook", bob.test_webhook)
    log("redeliver a pending delivery", lambda: bob.redeliver(ping.id))
    log("redeliver an unknown delivery", lambda: bob.redeliver("nope"))
    log("redeliver another's delivery", lambda: ann.redeliver(ping.id))
    log("clear webhook", lambda: bob.set_webhook(None))
    log("webhook after clear", bob.webhook)
    log("rotate without a webhook", bob.rotate_webhook_secret)
    log("ping without a webhook", bob.test_webhook)
    log("webhook as nobody", anon.webhook)
    log("listen", lambda: _first(anon.listen(after=3), 3))
    log("listen, mine", lambda: _first(bob.listen(after=0, mine=True, types=["task.assigned"]), 1))
    log("listen, unknown type", lambda: _first(anon.listen(types=["task.exploded"]), 1))
    log("listen, mine as nobody", lambda: _first(anon.listen(mine=True), 1))
    # -- deadlines, review and disputes (SPEC §10) -------------------------------------------------
    carl_id = carl.me().id

    def post(title: str, budget: int = 2, **timers: Any) -> Any:
        return ann.post_task(title=title, description="", budget=budget, required_capabilities=[], **timers)

    reviewed = log("post reviewed", lambda: post("Review me", 10, review_hours=2, evaluator_id=carl_id,
                                                   claim_seconds=3600, deadline="2026-03-14T12:00:00+02:00"))
    log("post, deadline a minute ahead", lambda: post("Quick", deadline="2026-03-13T12:01:00Z"))
    for label, timers in (("deadline past", {"deadline": "2026-03-13T11:00:00Z"}),
                          ("deadline too soon", {"deadline": "2026-03-13T12:00:30Z"}),
                          ("deadline too far", {"deadline": "2026-06-12T12:00:01Z"}),
                          ("deadline not RFC 3339", {"deadline": "tomorrow"}),
                          ("deadline without offset", {"deadline": "2026-03-14T12:00:00"}),
                          ("claim_seconds too short", {"claim_seconds": 59}),
                          ("claim_seconds too long", {"claim_seconds": 30 * 86_400 + 1}),
                          ("review_hours negative", {"review_hours": -1}),
                          ("review_hours too long", {"review_hours": 721}),
                          ("review_hours a float", {"review_hours": 1.5}),
                          ("evaluator the poster", {"evaluator_id": ann.me().id}),
                          ("evaluator unknown", {"evaluator_id": "nobody"})):
        log(f"post, {label}", lambda t=timers: post("Refused", **t))
    review = reviewed.id
    log("accept as the evaluator", lambda: carl.accept_task(review))
    log("accept reviewed", lambda: bob.accept_task(review))
    log("submit", lambda: bob.complete_task(review, "Reviewed work"))
    log("approve by the worker", lambda: bob.approve_task(review))
    log("reject without a reason", lambda: ann.reject_task(review, ""))
    log("resolve before a dispute", lambda: carl.resolve_task(review, 50))
    log("reject", lambda: ann.reject_task(review, "Not what I asked for"))
    log("approve a disputed task", lambda: ann.approve_task(review))
    log("resolve by the poster", lambda: ann.resolve_task(review, 50))
    for label, share in (("a float", 50.0), ("a bool", True), ("over 100", 101), ("negative", -1)):
        log(f"resolve with {label}", lambda sh=share: carl.resolve_task(review, sh))
    log("get disputed as the evaluator", lambda: carl.get_task(review))
    log("evaluating", lambda: carl.list_tasks(mine="evaluating", status=TaskStatus.DISPUTED))
    log("resolve", lambda: carl.resolve_task(review, 40, "Partly done"))
    log("resolve again", lambda: carl.resolve_task(review, 100))
    log("worker after the dispute", lambda: anon.get_agent(bob.me().id))
    approved = post("Approve me", review_hours=1).id
    bob.accept_task(approved)
    log("submit to approve", lambda: bob.complete_task(approved, "Good work"))
    log("approve", lambda: ann.approve_task(approved))
    log("approve again", lambda: ann.approve_task(approved))
    nothing = post("Worth nothing", review_hours=1, evaluator_id=carl_id).id
    bob.accept_task(nothing)
    bob.complete_task(nothing, "Empty")
    ann.reject_task(nothing, "Empty")
    log("resolve with nothing for the worker", lambda: carl.resolve_task(nothing, 0))

    log("stats", anon.stats)
    log("events", lambda: anon.events(0, 1000))
    log("events, a window", lambda: anon.events(after=3, limit=4))
    log("events, bad limit", lambda: anon.events(limit=0))
    log("walk events by cursor", lambda: _walk(lambda c: anon.events_page(after=3, limit=5, cursor=c)))
    log("events with a cursor of another after", lambda: anon.events_page(
        after=4, limit=5, cursor=anon.events_page(after=3, limit=5).next_cursor))
    log("change token", anon.change_token)
    log("change token again", anon.change_token)
    ann.post_task(title="One more", description="", budget=1, required_capabilities=[])
    log("change token after a change", anon.change_token)
    return log.steps


def _first(events: Iterator[Any], count: int) -> list[Any]:
    """The first ``count`` events of a live stream, which is then closed."""
    try:
        return list(itertools.islice(events, count))
    finally:
        events.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, endpoint: LoopbackServer) -> dict[str, dict[str, Any]]:
    path = tmp_path_factory.mktemp("contract")
    return run_on_both(path, lambda connect: everything(connect, endpoint.url))


def test_both_transports_give_identical_outcomes(outcomes: dict[str, dict[str, Any]]) -> None:
    socket, in_process = (outcomes[name] for name in TRANSPORTS)
    assert list(socket) == list(in_process)
    for label in socket:
        assert in_process[label] == socket[label], label


def test_the_outcomes_are_the_expected_ones(outcomes: dict[str, dict[str, Any]]) -> None:
    steps = outcomes["in_process"]

    def error(label: str) -> str:
        return steps[label].get("error", "none") if isinstance(steps[label], dict) else "none"

    assert steps["register ann"]["balance"] == 100 and steps["register ann"]["api_key"]
    assert steps["register bob"]["webhook_secret"].startswith("whsec_")
    expected_errors = {
        "register name taken": "NameTaken", "register invalid": "ValidationError", "me as nobody": "NoIdentity",
        "update me invalid": "ValidationError", "update me to a taken name": "NameTaken",
        "old key in its grace period": "none", "use a wrong key": "InvalidApiKey", "a wrong key acts": "InvalidApiKey",
        "post beyond the wallet": "InsufficientCredits", "post invalid": "ValidationError",
        "post as nobody": "NoIdentity", "accept without the capability": "MissingCapabilities",
        "accept own task": "OwnTask", "accept again": "InvalidState", "complete by the poster": "NotAssignee",
        "complete invalid": "ValidationError", "rate by the worker": "NotPoster", "rate invalid": "ValidationError",
        "rate again": "AlreadyRated", "cancel by another": "NotPoster", "accept a cancelled task": "InvalidState",
        "release by the poster": "NotAssignee", "complete with a body over the limit": "PayloadTooLarge",
        "complete an unknown task": "NotFound", "get an unknown task": "NotFound", "get a path-like id": "NotFound",
        "timeline of an unknown task": "NotFound", "list mine as nobody": "NoIdentity",
        "list mine, unknown": "ValidationError", "list tasks, bad limit": "ValidationError",
        "list tasks, bad status": "ValidationError", "list tasks, bad order": "ValidationError",
        "list tasks, bad capability": "ValidationError", "list agents, bad order": "ValidationError",
        "get an unknown agent": "NotFound", "execute a failing agent": "AgentFailed",
        "execute a prompt agent without a model": "LLMNotConfigured",
        "execute an agent without an endpoint": "AgentNotExecutable", "execute yourself": "SelfHire",
        "execute an unknown agent": "NotFound", "execute beyond the wallet": "InsufficientCredits",
        "execute below the price": "ValidationError", "execute as nobody": "NoIdentity",
        "transactions, bad limit": "ValidationError", "wallet as nobody": "NoIdentity",
        "transactions as nobody": "NoIdentity", "a cursor with other filters": "InvalidCursor",
        "a garbled cursor": "InvalidCursor", "my tasks with another's cursor": "InvalidCursor",
        "transactions with another's cursor": "InvalidCursor", "set webhook invalid": "ValidationError",
        "webhook as nobody": "NoIdentity", "events, bad limit": "ValidationError",
        "deliveries with another's cursor": "InvalidCursor", "events with a cursor of another after": "InvalidCursor",
        "my tasks, bad status": "ValidationError", "my tasks as nobody": "NoIdentity",
        "accept as the evaluator": "EvaluatorCannotAccept", "approve by the worker": "NotPoster",
        "reject without a reason": "ValidationError", "resolve before a dispute": "InvalidState",
        "approve a disputed task": "InvalidState", "resolve by the poster": "NotEvaluator",
        "resolve again": "InvalidState", "approve again": "InvalidState",
        **{f"resolve with {label}": "ValidationError" for label in ("a float", "a bool", "over 100", "negative")},
        **{f"post, {label}": "ValidationError" for label in (
            "deadline past", "deadline too soon", "deadline too far", "deadline not RFC 3339",
            "deadline without offset", "claim_seconds too short", "claim_seconds too long", "review_hours negative",
            "review_hours too long", "review_hours a float", "evaluator the poster")},
        "post, evaluator unknown": "NotFound",
        "choose an unknown event": "ValidationError", "redeliver a pending delivery": "DeliveryPending",
        "redeliver an unknown delivery": "NotFound", "redeliver another's delivery": "NotFound",
        "rotate without a webhook": "NoWebhook", "ping without a webhook": "NoWebhook",
        "listen, unknown type": "ValidationError", "listen, mine as nobody": "NoIdentity",
    }
    assert {label: error(label) for label in expected_errors} == expected_errors
    assert steps["still the previous agent"]["name"] == "Bob"
    assert steps["use no key"] is None and steps["api key after none"] is None

    # results only for the poster and the assignee; other agents' private fields never shown
    shown = {viewer: steps[f"get task as {viewer}"]["result"] for viewer in ("poster", "assignee", "another agent",
                                                                            "nobody")}
    assert shown == {"poster": "Fixed: the parser now reads tabs.", "assignee": "Fixed: the parser now reads tabs.",
                     "another agent": None, "nobody": None}
    assert [t["result"] for t in steps["list tasks as another agent"]["items"]] == [None]
    other = steps["get agent as another"]
    assert (other["owner_email"], other["endpoint_url"], other["system_prompt"], other["hireable"]) == \
        ("", None, None, True)
    assert steps["get agent as itself"]["owner_email"] == ""  # /api/agents/{id} is public even for oneself
    assert steps["me"]["owner_email"] == "ann@example.com"
    assert steps["rate"]["rating"] == 4 and steps["complete"]["status"] == "completed"
    assert steps["release"]["status"] == "open" and steps["cancel"]["status"] == "cancelled"

    # SPEC §10: each refusal names its field; the dispute's arithmetic
    refused_fields = {label: steps[label]["field"] for label in steps if label.startswith("post, ")
                      and "error" in steps[label]}
    assert set(refused_fields.values()) == {"deadline", "claim_seconds", "review_hours", "evaluator_id"}
    assert steps["accept as the evaluator"]["field"] == "evaluator_id"
    assert steps["reject without a reason"]["field"] == "reason"
    assert {steps[f"resolve with {x}"]["field"] for x in ("a float", "a bool", "over 100", "negative")} == \
        {"worker_share"}
    posted_reviewed = steps["post reviewed"]
    assert (posted_reviewed["deadline"], posted_reviewed["review_hours"], posted_reviewed["claim_seconds"]) == \
        ("2026-03-14T10:00:00Z", 2, 3600)
    assert steps["post, deadline a minute ahead"]["deadline"] == "2026-03-13T12:01:00Z"
    assert steps["accept reviewed"]["claim_expires_at"] == "2026-03-13T13:00:00Z"
    assert (steps["submit"]["status"], steps["submit"]["escrow"], steps["submit"]["review_ends_at"]) == \
        ("submitted", 10, "2026-03-13T14:00:00Z")
    assert steps["reject"]["status"] == "disputed" and steps["reject"]["dispute_reason"] == "Not what I asked for"
    assert steps["get disputed as the evaluator"]["result"] == "Reviewed work"
    assert [t["title"] for t in steps["evaluating"]["items"]] == ["Review me"]
    resolved = steps["resolve"]  # p = floor(10 * 40 / 100) = 4: the worker 3, the fee 1, the poster 6 back
    assert (resolved["status"], resolved["escrow"], resolved["worker_share"]) == ("completed", 0, 40)
    assert steps["worker after the dispute"]["disputes_lost"] == 1
    assert steps["worker after the dispute"]["missed_claims"] == 0
    assert steps["approve"]["status"] == "completed"
    assert steps["resolve with nothing for the worker"]["status"] == "refunded"

    # lists: filters, orders and pages
    everything_newest = steps[f"list tasks None {TaskOrder.NEWEST}"]
    assert everything_newest["total"] == 4
    assert steps[f"list tasks {TaskStatus.OPEN} {TaskOrder.NEWEST}"]["total"] == 1  # the blurb
    budgets = [t["budget"] for t in steps[f"list tasks None {TaskOrder.BUDGET_HIGH}"]["items"]]
    assert budgets == sorted(budgets, reverse=True)
    assert [t["title"] for t in steps["list tasks by capability"]["items"]] == ["Port to Rust", "Fix the parser"]
    assert {t["title"] for t in steps["list tasks by search"]["items"]} == {"Fix the parser", "Write the blurb"}
    page = steps["list tasks, a page"]
    assert (page["total"], page["limit"], page["offset"], [t["budget"] for t in page["items"]]) == (4, 2, 1, [10, 12])
    assert steps["list tasks past the end"]["items"] == []
    assert steps["list my posted tasks"]["total"] == 4
    assert [t["title"] for t in steps["list my assigned tasks"]["items"]] == ["Port to Rust", "Fix the parser"]
    assert steps["list open assigned to me"]["total"] == 0
    assert steps["my tasks as poster"]["total"] == 4
    assert [t["title"] for t in steps["my tasks as assignee"]["items"]] == ["Port to Rust", "Fix the parser"]
    assert steps["my tasks as assignee"]["items"][1]["result"] == "Fixed: the parser now reads tabs."
    assert (steps["my tasks, open, a page"]["total"], len(steps["my tasks, open, a page"]["items"])) == (1, 1)
    assert steps["my tasks, bad status"]["field"] == "status"
    names = [a["name"] for a in steps[f"list agents {AgentOrder.NAME}"]["items"]]
    assert names == sorted(names)
    assert steps["list agents, a page"]["total"] == 6 and len(steps["list agents, a page"]["items"]) == 2
    assert {a["name"] for a in steps["list agents by capability"]["items"]} == {"Ann", "Hired", "Broken", "Poet"}

    # hiring and credits
    hire = steps["execute"]
    assert (hire["result"], hire["type"]) == ("**Done:** Write a haiku", "ExecutionResult")
    assert steps["wallet hired"]["balance"] == 100 + 10 * 90 // 100
    assert steps["wallet ann"]["balance"] == hire["balance"]
    assert steps["transactions, a page"]["offset"] == 1 and len(steps["transactions, a page"]["items"]) == 2
    for order in TaskOrder:  # a walk by cursor meets every task once, in the order of one big page
        walked = [t for page in steps[f"walk tasks {order} by cursor"] for t in page["items"]]
        assert walked == steps[f"list tasks None {order}"]["items"]
    walked = [t for page in steps["walk transactions by cursor"] for t in page["items"]]
    assert walked == steps["transactions ann"]["items"]

    # webhooks: masked URL, the secret shown once, deliveries queued for the matching tasks
    assert steps["webhook"]["url"] == "...gentmarket" and steps["webhook"]["secret"] is None
    assert steps["set webhook"]["url"] == "...m/hooks/v2"
    assert steps["set webhook"]["secret"].startswith("whsec_")
    assert steps["webhook after clear"]["url"] is None
    assert [d["event"] for d in steps["deliveries"]["items"]] == ["task.posted", "task.posted"]
    assert steps["deliveries"]["total"] == 2
    assert len(steps["deliveries, a few"]["items"]) == 1
    walked = [d for page in steps["walk deliveries by cursor"] for d in page["items"]]
    assert walked == steps["deliveries"]["items"]
    assert steps["choose webhook events"]["events"] == ["task.posted", "task.assigned"]
    assert steps["choose webhook events"]["all_tasks"] is True
    rotated = steps["rotate webhook secret"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != steps["set webhook"]["secret"]
    assert rotated["previous_secret_until"] == "2026-03-14T12:00:00Z"
    assert (steps["ping webhook"]["event"], steps["ping webhook"]["status"]) == ("ping", "pending")

    # the live stream: the events after a seq, and filtered to mine
    assert [e["seq"] for e in steps["listen"]] == [4, 5, 6]
    assert [e["type"] for e in steps["listen, mine"]] == ["task.assigned"]

    # the market and its live signal
    assert steps["stats"]["agents"] == 6
    events = steps["events"]
    assert [e["seq"] for e in steps["events, a window"]] == [4, 5, 6, 7]
    walked = [e for page in steps["walk events by cursor"] for e in page["items"]]
    assert [e["seq"] for e in walked] == list(range(4, events[-1]["seq"] + 1))
    assert steps["walk events by cursor"][0]["total"] == events[-1]["seq"] - 3
    assert steps["change token"] == events[-1]["seq"] == steps["change token again"]
    assert steps["change token after a change"] > steps["change token"]


def test_no_identity_is_refused_before_anything_is_sent() -> None:
    """No key, no request: the same client-side refusal whatever the transport."""
    client = MarketClient("http://127.0.0.1:9")  # the discard port: nothing must be sent
    with pytest.raises(NoIdentity):
        client.wallet()
    client.close()
