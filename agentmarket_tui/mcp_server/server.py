"""The MCP server (``mcp`` SDK, low-level ``Server``) over a :class:`MarketClient`.

Tools come from :mod:`.tools`; resources are a task and an agent by id
(``agentmarket://tasks/{id}``, ``agentmarket://agents/{id}``). The client blocks, so each
call runs in a worker thread. A refusal of the market is a tool error (``isError``) whose
text is ``message [code]`` and whose structured content is the API's error object; no
input, however bad, ends the server.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from engine import views
from engine.errors import MarketError, NotFound, ServiceUnavailable

from ..client import MarketClient, NoIdentity
from .tools import TOOLS, TOOLS_BY_NAME, Session

log = logging.getLogger("agentmarket.mcp")

NAME = "agentmarket"
INSTRUCTIONS = (
    "AgentMarket is a marketplace where AI agents trade work for credits. Find agents (find_agents), "
    "post work with a budget that is escrowed (post_task), accept and complete others' tasks to earn "
    "(accept_task, complete_task), or hire an agent directly and get its result (hire_agent). "
    "Errors carry the market's error code in brackets, e.g. [insufficient_credits]."
)
NO_IDENTITY = ("this tool acts as an agent: start the server with --api-key KEY or AGENTMARKET_API_KEY "
               "(register one with `agentmarket register`)")
TASK_URI, AGENT_URI = "agentmarket://tasks/", "agentmarket://agents/"
RESOURCE_NOT_FOUND = -32002
INTERNAL_ERROR = -32603
#: Market calls running at once (a hire may take minutes; others go on meanwhile).
WORKER_THREADS = 4


def build_server(client: MarketClient, *, version: str = "") -> Server[Any]:
    """An MCP server whose tools and resources act through ``client`` (the caller closes it)."""
    session = Session(client)
    limiter = anyio.CapacityLimiter(WORKER_THREADS)

    async def in_thread(job: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(job, limiter=limiter)

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=t.name, description=t.description, input_schema=t.input_schema,
                       annotations=types.ToolAnnotations(read_only_hint=t.read_only))
            for t in TOOLS])

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = TOOLS_BY_NAME.get(params.name)
        try:
            if tool is None:
                raise NotFound(f"no tool {params.name[:100]!r}; the tools are {', '.join(TOOLS_BY_NAME)}")
            args = dict(params.arguments or {})
            data = await in_thread(lambda: tool.run(session, args))
        except NoIdentity:
            return _tool_error(NoIdentity(NO_IDENTITY))
        except MarketError as exc:
            return _tool_error(exc)
        except Exception:  # a bug of ours: report it, keep serving
            log.exception("tool %s failed unexpectedly", params.name)
            return _tool_error(ServiceUnavailable("the market could not finish this call; retry later"))
        return types.CallToolResult(content=[types.TextContent(type="text", text=_json(data))],
                                    structured_content=data)

    async def list_templates(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                             ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[
            types.ResourceTemplate(uri_template=TASK_URI + "{id}", name="task", mime_type="application/json",
                                   description="A task by id (its result only for its poster and assignee)."),
            types.ResourceTemplate(uri_template=AGENT_URI + "{id}", name="agent", mime_type="application/json",
                                   description="An agent's public profile by id."),
        ])

    async def list_resources(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                             ) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[])

    async def read_resource(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
                            ) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            data = await in_thread(lambda: _resource(session, uri))
        except NotFound as exc:
            raise MCPError(RESOURCE_NOT_FOUND, f"{exc.message} [{exc.code}]", exc.to_dict()) from None
        except MarketError as exc:
            raise MCPError(INTERNAL_ERROR, f"{exc.message} [{exc.code}]", exc.to_dict()) from None
        return types.ReadResourceResult(contents=[
            types.TextResourceContents(uri=uri, mime_type="application/json", text=_json(data))])

    return Server(NAME, version=version, title="AgentMarket", instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
                  on_list_resource_templates=list_templates, on_read_resource=read_resource)


def _resource(session: Session, uri: str) -> dict[str, Any]:
    """The JSON of the task or agent ``uri`` names. Raises NotFound (also for an unknown URI)."""
    for prefix, read in ((TASK_URI, lambda i: session.task(session.client.get_task(i))),
                         (AGENT_URI, lambda i: views.agent_public(session.client.get_agent(i)))):
        if uri.startswith(prefix) and len(uri) > len(prefix) and "/" not in uri[len(prefix):]:
            return read(uri[len(prefix):])
    raise NotFound(f"no resource {uri[:200]!r}; use {TASK_URI}{{id}} or {AGENT_URI}{{id}}")


def _tool_error(exc: MarketError) -> types.CallToolResult:
    return types.CallToolResult(is_error=True, content=[types.TextContent(type="text",
                                                                          text=f"{exc.message} [{exc.code}]")],
                                structured_content={"error": exc.to_dict()})


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


# -- transports -------------------------------------------------------------------------------------
def run_stdio(server: Server[Any]) -> None:
    """Serve one MCP client on stdin/stdout until it closes them."""
    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


def run_http(server: Server[Any], host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve MCP over streamable HTTP at ``http://host:port/mcp`` until interrupted.

    ``port`` 0 picks a free one; the address is printed on stderr either way
    (``AgentMarket MCP on http://...``), so a script can read it.
    """
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    app = server.streamable_http_app(host=host, json_response=True, stateless_http=False)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    print(f"AgentMarket MCP on http://{shown}:{bound}/mcp", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
