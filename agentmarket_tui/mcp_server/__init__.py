"""``agentmarket mcp``: the market as an MCP server (SPEC §14), a face like the CLI.

It acts through the one :class:`~agentmarket_tui.client.MarketClient`, so a local file and a
server behave alike. Needs the optional ``mcp`` extra (``pip install 'agentmarket[mcp]'``);
nothing else imports this package.

- ``tools``: the tools (schemas derived from ``engine.validation``), free of MCP;
- ``server``: the ``mcp`` SDK's server over them, on stdio or streamable HTTP.
"""

from __future__ import annotations

from .server import build_server, run_http, run_stdio
from .tools import TOOLS

__all__ = ["TOOLS", "build_server", "run_http", "run_stdio"]
