"""Malformed and hostile requests: each gets a 4xx JSON error envelope, and nothing changes."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any

from .conftest import Api, ApiAgent

WRONG_KEY = "f" * 64
INJECTION = "'; DROP TABLE tasks; --"


@dataclass(frozen=True)
class Case:
    """One hostile request through httpx. ``as_`` picks the key: poster, worker, none or a literal key."""

    name: str
    method: str
    path: str
    status: int
    code: str
    body: Any = None  # JSON-encoded unless bytes
    as_: str = "poster"
    headers: dict[str, str] = field(default_factory=dict)
    field: str | None = None


def _task(**fields: Any) -> dict[str, Any]:
    return {"title": "Valid title", "budget": 5, **fields}


def _agent(**fields: Any) -> dict[str, Any]:
    return {"name": "Newcomer", "capabilities": ["coding"], "owner_email": "n@example.com", **fields}


V = "validation_error"
CASES: list[Case] = [
    # bodies that are not JSON objects
    Case("unclosed object", "POST", "/api/tasks", 400, "invalid_json", b'{"title": "x", "budget": 5'),
    Case("array body", "POST", "/api/tasks", 400, "invalid_json", b"[]"),
    Case("string body", "POST", "/api/tasks", 400, "invalid_json", b'"hello"'),
    Case("null body", "POST", "/api/tasks", 400, "invalid_json", b"null"),
    Case("NaN budget", "POST", "/api/tasks", 400, "invalid_json", b'{"title": "x", "budget": NaN}'),
    Case("Infinity budget", "POST", "/api/tasks", 400, "invalid_json", b'{"title": "x", "budget": Infinity}'),
    Case("invalid UTF-8", "POST", "/api/tasks", 400, "invalid_json", b'{"title": "\xff\xfe", "budget": 5}'),
    Case("lone surrogate", "POST", "/api/tasks", 400, "invalid_json", b'{"title": "\\ud800", "budget": 5}'),
    Case("deep nesting", "POST", "/api/tasks", 400, "invalid_json", b"[" * 100_000 + b"]" * 100_000),
    Case("5000-digit budget", "POST", "/api/tasks", 400, "invalid_json",
         b'{"title": "x", "budget": ' + b"9" * 5000 + b"}"),
    Case("trailing garbage", "POST", "/api/tasks", 400, "invalid_json", b'{"title": "x", "budget": 5} extra'),
    # wrong types and bounds for a task
    Case("float budget", "POST", "/api/tasks", 400, V, _task(budget=10.0), field="budget"),
    Case("fractional budget", "POST", "/api/tasks", 400, V, _task(budget=10.5), field="budget"),
    Case("string budget", "POST", "/api/tasks", 400, V, _task(budget="10"), field="budget"),
    Case("boolean budget", "POST", "/api/tasks", 400, V, _task(budget=True), field="budget"),
    Case("null budget", "POST", "/api/tasks", 400, V, _task(budget=None), field="budget"),
    Case("zero budget", "POST", "/api/tasks", 400, V, _task(budget=0), field="budget"),
    Case("negative budget", "POST", "/api/tasks", 400, V, _task(budget=-5), field="budget"),
    Case("budget over the maximum", "POST", "/api/tasks", 400, V, _task(budget=1_000_001), field="budget"),
    Case("huge budget", "POST", "/api/tasks", 400, V, _task(budget=10**30), field="budget"),
    Case("1e400 budget", "POST", "/api/tasks", 400, V, b'{"title": "x", "budget": 1e400}', field="budget"),
    Case("budget as object", "POST", "/api/tasks", 400, V, _task(budget={"amount": 5}), field="budget"),
    Case("missing budget", "POST", "/api/tasks", 400, V, {"title": "x"}, field="budget"),
    Case("missing title", "POST", "/api/tasks", 400, V, {"budget": 5}, field="title"),
    Case("empty title", "POST", "/api/tasks", 400, V, _task(title=""), field="title"),
    Case("blank title", "POST", "/api/tasks", 400, V, _task(title="   "), field="title"),
    Case("title too long", "POST", "/api/tasks", 400, V, _task(title="x" * 201), field="title"),
    Case("title with NUL", "POST", "/api/tasks", 400, V, _task(title="a\u0000b"), field="title"),
    Case("title with escape codes", "POST", "/api/tasks", 400, V, _task(title="\x1b[2Jhi"), field="title"),
    Case("title as number", "POST", "/api/tasks", 400, V, _task(title=5), field="title"),
    Case("title as list", "POST", "/api/tasks", 400, V, _task(title=["a"]), field="title"),
    Case("description too long", "POST", "/api/tasks", 400, V, _task(description="d" * 100_001),
         field="description"),
    Case("capabilities as string", "POST", "/api/tasks", 400, V, _task(required_capabilities="coding"),
         field="required_capabilities"),
    Case("capability not a slug", "POST", "/api/tasks", 400, V, _task(required_capabilities=["Coding!"]),
         field="required_capabilities"),
    Case("21 capabilities", "POST", "/api/tasks", 400, V,
         _task(required_capabilities=[f"c{i}" for i in range(21)]), field="required_capabilities"),
    Case("capability as number", "POST", "/api/tasks", 400, V, _task(required_capabilities=[1]),
         field="required_capabilities"),
    Case("injection with string budget", "POST", "/api/tasks", 400, V, _task(title=INJECTION, budget="5 OR 1=1"),
         field="budget"),
    Case("insufficient credits", "POST", "/api/tasks", 402, "insufficient_credits", _task(budget=1_000_000)),
    Case("idempotency key too long", "POST", "/api/tasks", 400, V, _task(),
         headers={"Idempotency-Key": "k" * 300}, field="Idempotency-Key"),
    # keys
    Case("no key", "POST", "/api/tasks", 401, "auth_required", _task(), as_="none"),
    Case("wrong key", "POST", "/api/tasks", 401, "invalid_api_key", _task(), as_=WRONG_KEY),
    Case("overlong key", "POST", "/api/tasks", 401, "invalid_api_key", _task(), as_="a" * 300),
    Case("injection key", "POST", "/api/tasks", 401, "invalid_api_key", _task(), as_="' OR '1'='1"),
    Case("wallet without key", "GET", "/api/wallet", 401, "auth_required", as_="none"),
    Case("me with wrong key", "GET", "/api/agents/me", 401, "invalid_api_key", as_=WRONG_KEY),
    Case("browse with wrong key", "GET", "/api/tasks", 401, "invalid_api_key", as_=WRONG_KEY),
    Case("accept with wrong key", "POST", "/api/tasks/{open}/accept", 401, "invalid_api_key", as_=WRONG_KEY),
    Case("complete without key", "POST", "/api/tasks/{assigned}/complete", 401, "auth_required",
         {"result": "x"}, as_="none"),
    # unknown ids and injection in paths and queries
    Case("accept unknown task", "POST", "/api/tasks/unknown/accept", 404, "not_found", as_="worker"),
    Case("complete unknown task", "POST", "/api/tasks/unknown/complete", 404, "not_found", {"result": "x"},
         as_="worker"),
    Case("cancel unknown task", "POST", "/api/tasks/unknown/cancel", 404, "not_found"),
    Case("rate unknown task", "POST", "/api/tasks/unknown/rate", 404, "not_found", {"rating": 3}),
    Case("get unknown task", "GET", "/api/tasks/00000000-0000-0000-0000-000000000000", 404, "not_found"),
    Case("get unknown agent", "GET", "/api/agents/unknown", 404, "not_found"),
    Case("hire unknown agent", "POST", "/api/execute", 404, "not_found",
         {"agent_id": "nobody", "task_description": "x", "budget": 5}),
    Case("SQL in task id", "GET", "/api/tasks/1'%20OR%20'1'='1", 404, "not_found"),
    Case("SQL in agent id", "POST", "/api/tasks/x'%3B%20DELETE%20FROM%20accounts%3B--/accept", 404, "not_found",
         as_="worker"),
    Case("traversal in id", "POST", "/api/tasks/..%2F..%2Fwallet/accept", 404, "not_found", as_="worker"),
    Case("SQL in status filter", "GET", "/api/tasks?status=open'%20OR%201=1--", 400, V, field="status"),
    Case("SQL in capability filter", "GET", "/api/tasks?capability='%20OR%201=1", 400, V, field="capability"),
    Case("limit 0", "GET", "/api/tasks?limit=0", 400, V, field="limit"),
    Case("limit 101", "GET", "/api/agents?limit=101", 400, V, field="limit"),
    Case("limit not a number", "GET", "/api/tasks?limit=ten", 400, V, field="limit"),
    Case("negative offset", "GET", "/api/tasks?offset=-1", 400, V, field="offset"),
    Case("too many query parameters", "GET", "/api/tasks?" + "&".join(f"p{i}=1" for i in range(60)), 400,
         "bad_request"),
    # routes and methods
    Case("unknown route", "GET", "/api/nope", 404, "not_found"),
    Case("root", "GET", "/", 404, "not_found"),
    Case("delete tasks", "DELETE", "/api/tasks", 405, "method_not_allowed"),
    Case("put a task", "PUT", "/api/tasks/{open}", 405, "method_not_allowed", _task()),
    Case("GET an action", "GET", "/api/tasks/{open}/accept", 405, "method_not_allowed"),
    Case("POST the wallet", "POST", "/api/wallet", 405, "method_not_allowed", {}),
    Case("made-up method", "BREW", "/api/tasks", 405, "method_not_allowed"),
    # the other bodies
    Case("empty result", "POST", "/api/tasks/{assigned}/complete", 400, V, {"result": ""}, as_="worker",
         field="result"),
    Case("result too long", "POST", "/api/tasks/{assigned}/complete", 400, V, {"result": "r" * 200_001},
         as_="worker", field="result"),
    Case("result as number", "POST", "/api/tasks/{assigned}/complete", 400, V, {"result": 42}, as_="worker",
         field="result"),
    Case("rating as string", "POST", "/api/tasks/{open}/rate", 400, V, {"rating": "5"}, field="rating"),
    Case("rating 0", "POST", "/api/tasks/{open}/rate", 400, V, {"rating": 0}, field="rating"),
    Case("execute float budget", "POST", "/api/execute", 400, V,
         {"agent_id": "{worker_id}", "task_description": "x", "budget": 5.0}, field="budget"),
    Case("execute empty description", "POST", "/api/execute", 400, V,
         {"agent_id": "{worker_id}", "task_description": "", "budget": 5}, field="task_description"),
    Case("name too long", "POST", "/api/agents/register", 400, V, _agent(name="n" * 101), as_="none", field="name"),
    Case("no capabilities", "POST", "/api/agents/register", 400, V, _agent(capabilities=[]), as_="none",
         field="capabilities"),
    Case("bad email", "POST", "/api/agents/register", 400, V, _agent(owner_email="not-an-email"), as_="none",
         field="owner_email"),
    Case("missing email", "POST", "/api/agents/register", 400, V, {"name": "x", "capabilities": ["a"]},
         as_="none", field="owner_email"),
    Case("ftp endpoint", "POST", "/api/agents/register", 400, V, _agent(endpoint_url="ftp://x.com/"), as_="none",
         field="endpoint_url"),
    Case("credentials in endpoint", "POST", "/api/agents/register", 400, V,
         _agent(endpoint_url="https://user:pw@x.com/"), as_="none", field="endpoint_url"),
    Case("http webhook", "POST", "/api/agents/register", 400, V, _agent(webhook_url="http://x.com/hook"),
         as_="none", field="webhook_url"),
    Case("negative price", "POST", "/api/agents/register", 400, V, _agent(price_per_task=-1), as_="none",
         field="price_per_task"),
    Case("prompt too long", "POST", "/api/agents/register", 400, V, _agent(system_prompt="p" * 20_001),
         as_="none", field="system_prompt"),
    Case("name taken in other case", "POST", "/api/agents/register", 409, "name_taken", _agent(name="POSTER"),
         as_="none"),
    Case("profile email wrong type", "PATCH", "/api/agents/me", 400, V, {"owner_email": 5}, field="owner_email"),
]

# Raw requests that httpx would not send: (name, bytes, close the write side after sending, status, code)
RAW: list[tuple[str, bytes, bool, int, str]] = [
    ("Content-Length not a number", b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nX-API-Key: {poster}\r\n"
     b"Content-Length: abc\r\n\r\n{}", False, 400, "bad_request"),
    ("negative Content-Length", b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", False, 400,
     "bad_request"),
    ("two Content-Lengths", b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nX-API-Key: {poster}\r\nContent-Length: 2\r\n"
     b"Content-Length: 40\r\n\r\n{}", False, 400, "bad_request"),
    ("truncated body", b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nX-API-Key: {poster}\r\nContent-Length: 100\r\n\r\n"
     b'{"title": "x", "budget": 5}', True, 400, "bad_request"),
    ("truncated headers", b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nX-API-Key: {poster}\r\nContent-Length: 50\r\n",
     True, 400, "bad_request"),
    ("body over 1 MiB, announced", b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nX-API-Key: {poster}\r\n"
     b"Content-Length: 2097152\r\n\r\n", False, 413, "payload_too_large"),
    ("chunked body", b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nX-API-Key: {poster}\r\nTransfer-Encoding: chunked\r\n"
     b"\r\n5\r\nhello\r\n0\r\n\r\n", False, 400, "bad_request"),
    ("garbage request line", b"HELLO\r\n\r\n", False, 400, "bad_request"),
    ("HTTP/2.0 request line", b"GET /api/tasks HTTP/2.0\r\nHost: x\r\n\r\n", False, 400, "bad_request"),
    ("request line too long", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", False, 400, "bad_request"),
    ("too many headers", b"GET /api/tasks HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120))
     + b"\r\n", False, 400, "bad_request"),
    ("NUL in path", b"GET /api/tasks\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False, 404, "not_found"),
    ("Latin-1 path", b"GET /api/t\xe2sks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False, 404, "not_found"),
]


def raw_exchange(url: str, request: bytes, half_close: bool) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` on a fresh socket and read one response (status, headers, body)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(request)
        except OSError:
            pass  # the server may answer and close before taking everything (413)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


def _snapshot(api: Api, agents: list[ApiAgent]) -> Any:
    tasks = api.anonymous.get("/api/tasks", params={"limit": 100}).json()["data"]
    return (
        api.anonymous.get("/api/stats").json()["data"],
        [a.get("/api/wallet").json()["data"] for a in agents],
        [(t["id"], t["status"], t["escrow"], t["assigned_to"], t["rating"], t["updated_at"]) for t in tasks],
        [a.get("/api/agents/me").json()["data"] for a in agents],
    )


def test_hostile_requests_get_4xx_envelopes_and_change_nothing(api: Api) -> None:
    poster, worker = api.register("Poster", "coding"), api.register("Worker", "coding")
    open_id = poster.post("/api/tasks", {"title": "Open", "budget": 10}).json()["data"]["id"]
    assigned_id = poster.post("/api/tasks", {"title": "Assigned", "budget": 10}).json()["data"]["id"]
    assert worker.post(f"/api/tasks/{assigned_id}/accept").status_code == 200
    before = _snapshot(api, [poster, worker])
    fill = {"{open}": open_id, "{assigned}": assigned_id, "{worker_id}": worker.id}

    def filled(text: str) -> str:
        for marker, value in fill.items():
            text = text.replace(marker, value)
        return text

    failures = []
    for case in CASES:
        key = {"poster": poster.key, "worker": worker.key, "none": None}.get(case.as_, case.as_)
        headers = {**case.headers, **({"X-API-Key": key} if key is not None else {})}
        if isinstance(case.body, bytes):
            content = case.body
        elif case.body is not None:
            content = json.dumps(case.body).replace("{worker_id}", worker.id).encode()
        else:
            content = None
        response = api.anonymous.request(case.method, filled(case.path), content=content,
                                         headers={"Content-Type": "application/json", **headers})
        problem = _check(response.status_code, response.headers, response.content, case.status, case.code, case.field)
        if problem:
            failures.append(f"{case.name}: {problem}")

    for name, request, half_close, status, code in RAW:
        request = request.replace(b"{poster}", poster.key.encode())
        got, headers, body = raw_exchange(api.url, request, half_close)
        problem = _check(got, headers, body, status, code, None)
        if problem:
            failures.append(f"raw {name}: {problem}")

    assert not failures, "\n".join(failures)
    assert len(CASES) + len(RAW) >= 50
    assert _snapshot(api, [poster, worker]) == before
    assert api.served.market.verify_ledger().ok


def _check(status: int, headers: Any, body: bytes, want_status: int, want_code: str, want_field: str | None) -> str:
    """What is wrong with a response ('' if nothing)."""
    if not 400 <= status < 500:
        return f"status {status}, body {body[:200]!r}"
    if not headers.get("content-type", "").startswith("application/json"):
        return f"content type {headers.get('content-type')!r}"
    try:
        envelope = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    error = envelope.get("error") or {}
    got = (status, envelope.get("success"), error.get("code"))
    if got != (want_status, False, want_code):
        return f"got {got}, want {(want_status, False, want_code)}: {error.get('message')}"
    if want_field is not None and error.get("field") != want_field:
        return f"field {error.get('field')!r}, want {want_field!r}"
    if status == 405 and "allow" not in {k.lower() for k in headers}:
        return "405 without Allow"
    return ""
