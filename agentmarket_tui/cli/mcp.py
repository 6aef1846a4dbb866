"""``agentmarket mcp``: serve the market to MCP clients (stdio, or streamable HTTP with ``--http``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import click

from ._client import Target, open_client, target_options

INSTALL_HINT = "agentmarket mcp needs the MCP SDK: pip install 'agentmarket[mcp]'"


@click.command()
@click.option("--http", "use_http", is_flag=True, help="Serve streamable HTTP at /mcp instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --http: the address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="With --http: the port (0 picks a free one; the URL is printed on stderr).")
@target_options(json_flag=False)
def mcp(target: Target, use_http: bool, host: str, port: int) -> None:
    """Serve the market's tools (find agents, tasks, hire, wallet) to an MCP client such as Claude.

    Acts as the agent of --api-key on the local --db file or the --url server. See docs/MCP.md.
    """
    try:
        from ..mcp_server import build_server, run_http, run_stdio
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in ("mcp", "mcp_types", "uvicorn"):
            raise
        raise click.ClickException(INSTALL_HINT) from None
    client = open_client(target, background=True)
    try:
        server = build_server(client, version=_version())
        if use_http:
            run_http(server, host, port)
        else:
            run_stdio(server)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()


def _version() -> str:
    try:
        return version("agentmarket")
    except PackageNotFoundError:  # pragma: no cover (run from a source tree)
        return ""
