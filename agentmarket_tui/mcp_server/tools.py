"""The market's operations as MCP tools: a name, a description, an input JSON Schema, a run.

Nothing here knows MCP: a :class:`Tool` runs against a :class:`MarketClient` (a file in
this process or a server, alike) and returns the API's JSON data (``engine.views``), or
raises the market's typed errors. Input schemas are derived, never written out: request
bodies from ``engine.validation``'s schemas (which also check the arguments, so a refusal
names the field with the REST API's very message), query arguments from the route table's
parameters, which derive from the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine import Task, views
from engine import validation as v
from engine.errors import ValidationError
from engine.queries import Page
from engine.server import ROUTES

from ..client import MINE, MarketClient

Run = Callable[["Session", dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Tool:
    """One MCP tool: what the client sees (name, description, schema) and what it runs."""

    name: str
    description: str
    input_schema: dict[str, Any]
    run: Run
    read_only: bool = False


class Session:
    """The client the tools act through, and who it acts as (asked once, when first needed)."""

    def __init__(self, client: MarketClient) -> None:
        self.client = client
        self._viewer: str | None = None

    def viewer(self) -> str | None:
        """The id of the agent the client acts as (None without a key): decides who sees results."""
        if self._viewer is None and self.client.api_key:
            self._viewer = self.client.me().id
        return self._viewer

    def task(self, task: Task) -> dict[str, Any]:
        return views.task(task, self.viewer())


# -- schemas ------------------------------------------------------------------------------------------
def _body_schema(*fields: v.Field) -> dict[str, Any]:
    return v.Schema("tool", fields).json_schema()


def _query_schema(method: str, path: str, *, rename: Mapping[str, str] | None = None,
                  skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The query parameters of the route ``method path`` as an arguments schema (``rename``: API name
    -> argument name, e.g. ``q`` -> ``search``)."""
    route = next(r for r in ROUTES if r.method == method and r.path == path)
    properties: dict[str, Any] = {}
    for param in route.query:
        if param.name in skip:
            continue
        schema = dict(param.schema)
        if param.description:
            schema["description"] = param.description
        properties[(rename or {}).get(param.name, param.name)] = schema
    return {"type": "object", "properties": properties}


_SEARCH = {"q": "search"}
_TASK_REF = (v.TASK_ID,)
_MINE = {"type": "string", "enum": list(MINE),
         "description": "Only your own tasks: those you posted, or those assigned to you."}


def _query_args(args: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The arguments a list tool takes (others ignored, as the API ignores unknown fields).

    Values reach the API as query parameters, so the server checks them exactly as it checks
    a URL's; only a value no URL could carry (a list, an object) is refused here.

    Raises:
        ValidationError: naming the argument.
    """
    picked = {name: args[name] for name in schema["properties"] if args.get(name) is not None}
    for name, value in picked.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError(name, f"{name} must be a string or a number")
    return picked


def _page(page: Page[Any], render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    shown = {"items": [render(item) for item in page.items], "total": page.total, "limit": page.limit,
             "offset": page.offset, "next_cursor": page.next_cursor}
    if page.total_is_lower_bound:
        shown["total_is_lower_bound"] = True
    return shown


# -- runs -----------------------------------------------------------------------------------------------
_FIND_AGENTS = _query_schema("GET", "/api/agents", rename=_SEARCH)
_LIST_TASKS = _query_schema("GET", "/api/tasks", rename=_SEARCH, skip=("poster_id", "assigned_to"))
_LIST_TASKS["properties"]["mine"] = _MINE
_TRANSACTIONS = _query_schema("GET", "/api/wallet/transactions")


def find_agents(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    return _page(session.client.list_agents(**_query_args(args, _FIND_AGENTS)), views.agent_public)


def list_tasks(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    return _page(session.client.list_tasks(**_query_args(args, _LIST_TASKS)), session.task)


def get_task(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    return session.task(session.client.get_task(_task_id(args)))


def post_task(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    body = v.TASK.validate(args)
    return session.task(session.client.post_task(**body))


def _action(name: str) -> Run:
    def run(session: Session, args: dict[str, Any]) -> dict[str, Any]:
        return session.task(getattr(session.client, f"{name}_task")(_task_id(args)))
    return run


def complete_task(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    task_id = _task_id(args)
    return session.task(session.client.complete_task(task_id, v.RESULT.validate(args)["result"]))


def rate_task(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    task_id = _task_id(args)
    return session.task(session.client.rate_task(task_id, v.RATING.validate(args)["rating"]))


def reject_task(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    task_id = _task_id(args)
    return session.task(session.client.reject_task(task_id, v.REJECTION.validate(args)["reason"]))


def resolve_task(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    task_id = _task_id(args)
    body = v.RESOLUTION.validate(args)
    return session.task(session.client.resolve_task(task_id, body["worker_share"], body.get("note", "")))


def hire_agent(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    body = v.EXECUTION.validate(args)
    hired = session.client.execute(body["agent_id"], body["task_description"], body["budget"])
    return {"task_id": hired.task_id, "result": hired.result}


def my_wallet(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    return views.wallet(session.client.wallet())


def my_transactions(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    return _page(session.client.transactions(**_query_args(args, _TRANSACTIONS)), views.transaction)


def _task_id(args: dict[str, Any]) -> str:
    return v.Schema("tool", _TASK_REF).validate(args)["task_id"]


# -- the table ----------------------------------------------------------------------------------------
TOOLS: tuple[Tool, ...] = (
    Tool("find_agents", "Find agents to hire or work with: by capability, by name search, in an order. "
         "Returns public profiles (price_per_task, reputation_score, hireable) and the total.",
         _FIND_AGENTS, find_agents, read_only=True),
    Tool("list_tasks", "List tasks, newest first by default: filter by status, capability, title search, or "
         "your own (mine: posted/assigned).", _LIST_TASKS, list_tasks, read_only=True),
    Tool("get_task", "One task; its result only if you posted it or it is assigned to you.",
         _body_schema(*_TASK_REF), get_task, read_only=True),
    Tool("post_task", "Post a task for any capable agent to accept; its budget (credits) moves from your "
         "wallet into escrow until the task is completed or cancelled.", v.TASK.json_schema(), post_task),
    Tool("accept_task", "Accept an open task (you must have its required capabilities); it is assigned to you.",
         _body_schema(*_TASK_REF), _action("accept")),
    Tool("complete_task", "Complete a task assigned to you with its result; you are paid its budget less the "
         "platform fee.", _body_schema(*_TASK_REF, *v.RESULT.fields), complete_task),
    Tool("release_task", "Give a task assigned to you back to the market (it is open again).",
         _body_schema(*_TASK_REF), _action("release")),
    Tool("cancel_task", "Cancel your own open task; its escrow is refunded to you.",
         _body_schema(*_TASK_REF), _action("cancel")),
    Tool("rate_task", "Rate your completed task 1-5, once.", _body_schema(*_TASK_REF, *v.RATING.fields),
         rate_task),
    Tool("approve_task", "Approve a result submitted for your review: the worker is paid.",
         _body_schema(*_TASK_REF), _action("approve")),
    Tool("reject_task", "Reject a result submitted for your review, saying why: the task is disputed and its "
         "escrow held until the evaluator (or the market's operator) settles it.",
         _body_schema(*_TASK_REF, *v.REJECTION.fields), reject_task),
    Tool("resolve_task", "Settle a dispute you are the evaluator of: worker_share percent of the budget goes to "
         "the worker (less the fee), the rest back to the poster.",
         _body_schema(*_TASK_REF, *v.RESOLUTION.fields), resolve_task),
    Tool("hire_agent", "Hire an agent directly and wait for its result: the budget (at least its "
         "price_per_task) is escrowed, the agent runs once, and it is paid on success; on failure you are "
         "refunded.", v.EXECUTION.json_schema(), hire_agent),
    Tool("my_wallet", "Your credits: balance, escrowed, earned and spent.", {"type": "object", "properties": {}},
         my_wallet, read_only=True),
    Tool("my_transactions", "Your wallet's history, newest first.", _TRANSACTIONS, my_transactions,
         read_only=True),
)

TOOLS_BY_NAME: dict[str, Tool] = {tool.name: tool for tool in TOOLS}
