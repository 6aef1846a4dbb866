"""Running a hired agent once: POST to its endpoint, or one Claude call with its prompt.

Each call returns the agent's result text or raises :class:`AgentCallFailed` saying
why, in a sentence fit for the caller. Nothing here touches the market's database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import DEFAULT_MODEL
from ..errors import LLMNotConfigured
from ..records import Agent, Task
from ..validation import strip_control_characters
from .signing import signature_headers
from .transport import bound_by_deadline, checked_client, total_deadline

DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_TOKENS = 4096


class AgentCallFailed(Exception):
    """The agent produced no usable result; the message says why."""


@dataclass(frozen=True, slots=True)
class CallSettings:
    """How agents are called (``engine.runtime`` builds it from the process's ``Config``).

    Attributes:
        timeout: seconds one call may take in all.
        model: the Claude model for prompt agents.
        api_key: the Anthropic API key; prompt agents cannot run without it.
        base_url: a gateway or a local stand-in for the Messages API.
    """

    timeout: float = DEFAULT_TIMEOUT_SECONDS
    model: str = DEFAULT_MODEL
    api_key: str | None = None
    base_url: str | None = None



def run_agent(agent: Agent, task: Task, *, allow_private: bool, settings: CallSettings,
              secret: str | None = None) -> str:
    """The agent's result for ``task``: from its endpoint if it has one, else from Claude.

    Args:
        secret: the agent's webhook secret; when given, endpoint calls are signed with it
            as webhooks are, so the endpoint can tell the market's calls from others.

    Raises:
        AgentCallFailed: no usable result.
        LLMNotConfigured: a prompt agent, and no Anthropic API key is set.
    """
    if agent.endpoint_url:
        text = call_endpoint(agent, task, allow_private=allow_private, settings=settings, secret=secret)
    else:
        text = call_claude(agent, task, settings)
    text = strip_control_characters(text)
    if not text.strip():
        raise AgentCallFailed("the agent returned an empty result")
    return text


def call_endpoint(agent: Agent, task: Task, *, allow_private: bool, settings: CallSettings,
                  secret: str | None = None) -> str:
    """POST ``{task_id, task_description, budget, capabilities}`` to the agent's endpoint and
    read ``{"result": "..."}`` from a 2xx answer of at most 1 MiB, all within the timeout
    (connect, TLS, request and answer together)."""
    assert agent.endpoint_url
    body = json.dumps({"task_id": task.id, "task_description": task.description, "budget": task.budget,
                       "capabilities": list(agent.capabilities)}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-AgentMarket-Task": task.id, "Accept-Encoding": "identity"}
    if secret:
        headers.update(signature_headers(secret, task.id, int(time.time()), body))
    try:
        with total_deadline(settings.timeout), \
                checked_client(allow_private=allow_private, timeout=settings.timeout, max_connections=1) as client, \
                client.stream("POST", agent.endpoint_url, content=body, headers=headers) as response:
            if not 200 <= response.status_code < 300:
                raise AgentCallFailed(f"the agent's endpoint answered HTTP {response.status_code}")
            raw = _read_limited(response)
    except httpx.TimeoutException:
        raise AgentCallFailed(f"the agent's endpoint did not answer within {settings.timeout:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise AgentCallFailed(f"the agent's endpoint could not be reached ({exc})") from None
    return _result_of(raw)


def _read_limited(response: httpx.Response) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise AgentCallFailed("the agent's answer is larger than 1 MiB")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise AgentCallFailed("the agent's answer is larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _result_of(raw: bytes) -> str:
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise AgentCallFailed('the agent\'s answer is not JSON like {"result": "..."}') from None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, str):
        raise AgentCallFailed('the agent\'s answer has no "result" string')
    return result


def call_claude(agent: Agent, task: Task, settings: CallSettings) -> str:
    """One Claude Messages call: system = the agent's prompt, user = the task's description,
    within the timeout in all (its one retry included).

    Raises:
        LLMNotConfigured: no API key is set.
        AgentCallFailed: the API failed or answered with no text.
    """
    if not settings.api_key:
        raise LLMNotConfigured("prompt agents need ANTHROPIC_API_KEY to be set on the market's host")
    import anthropic  # heavy; only prompt agents need it
    import httpcore2  # the SDK's own HTTP stack

    http_client = bound_by_deadline(anthropic.DefaultHttpxClient(), httpcore2)
    client = anthropic.Anthropic(api_key=settings.api_key, base_url=settings.base_url,
                                 timeout=settings.timeout, max_retries=1, http_client=http_client)
    try:
        with total_deadline(settings.timeout):
            message = client.messages.create(
                model=settings.model,
                max_tokens=MAX_TOKENS,
                system=agent.system_prompt or "",
                messages=[{"role": "user", "content": task.description}],
            )
    except RecursionError:
        raise AgentCallFailed("Claude's answer could not be read") from None
    except anthropic.APITimeoutError:
        raise AgentCallFailed(f"Claude did not answer within {settings.timeout:g} s") from None
    except anthropic.APIStatusError as exc:
        raise AgentCallFailed(f"Claude answered HTTP {exc.status_code}") from None
    except anthropic.AnthropicError as exc:
        raise AgentCallFailed(f"Claude could not be reached ({type(exc).__name__})") from None
    finally:
        client.close()
    return "".join(block.text for block in message.content if block.type == "text")
