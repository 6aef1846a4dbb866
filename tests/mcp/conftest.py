"""``agentmarket mcp`` as a child process, reached with the ``mcp`` SDK's own client over stdio
or streamable HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TRANSPORTS = ("stdio", "http")
_URL = re.compile(r"AgentMarket MCP on (http://\S+)")
START_TIMEOUT_SECONDS = 60.0


def command(*args: str) -> list[str]:
    """``agentmarket ARGS`` run by this test's Python."""
    return [sys.executable, "-c", "import sys; from agentmarket_tui.cli import main; sys.exit(main())", *args]


def environment() -> dict[str, str]:
    """The child's environment: this one without the AGENTMARKET_* variables a developer may have set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENTMARKET_")}


@asynccontextmanager
async def mcp_session(transport: str, *target: str) -> AsyncIterator[Client]:
    """An MCP client session on ``agentmarket mcp TARGET...`` over ``transport`` ("stdio" or "http")."""
    if transport == "stdio":
        params = StdioServerParameters(command=command()[0], args=[*command()[1:], "mcp", *target],
                                       env=environment(), cwd=str(ROOT))
        async with Client(params, read_timeout_seconds=120) as client:
            yield client
        return
    process = subprocess.Popen(command("mcp", "--http", "--port", "0", *target), cwd=ROOT, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = _read_url(process)
        async with Client(url, read_timeout_seconds=120) as client:
            yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


def _read_url(process: subprocess.Popen[str]) -> str:
    """The URL the child prints on stderr once it listens."""
    assert process.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        match = _URL.search(line)
        if match:
            return match.group(1)
    raise RuntimeError(f"agentmarket mcp --http did not start: {''.join(seen)[-2000:]}")


def data(result: Any) -> Any:
    """A successful tool result's structured data."""
    assert not result.is_error, result.content
    return result.structured_content


def error(result: Any) -> dict[str, Any]:
    """A failed tool result's market error object (its text names the code too)."""
    assert result.is_error, result.structured_content
    err = result.structured_content["error"]
    assert result.content[0].text == f"{err['message']} [{err['code']}]"
    return err
