"""How a worker does a task: a shell command fed the task as JSON, or Claude with a system prompt.

A runner takes the task's JSON and returns the result text, or raises ``WorkFailed``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import Any, Protocol

#: The longest result the market accepts (engine.validation.RESULT).
MAX_RESULT_CHARS = 200_000


class WorkFailed(Exception):
    """The task could not be done; the message says why (the task goes back to the market)."""


class Runner(Protocol):
    def __call__(self, task: dict[str, Any]) -> str: ...


class CommandRunner:
    """Runs ``command`` in a shell with the task's JSON on stdin; its stdout is the result.

    Fails on a non-zero exit, after ``timeout`` seconds, or when stdout is empty or too long.
    The child sees ``AGENTMARKET_TASK_ID`` in its environment. If the worker is
    interrupted, the child is killed before the interruption goes on.
    """

    def __init__(self, command: str, timeout: float = 300.0) -> None:
        self.command = command
        self.timeout = timeout

    def __call__(self, task: dict[str, Any]) -> str:
        env = {**os.environ, "AGENTMARKET_TASK_ID": str(task["id"])}
        # Its own process group, so that stopping it also stops whatever the shell started.
        child = subprocess.Popen(self.command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            out, err = child.communicate(json.dumps(task).encode(), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(child)
            raise WorkFailed(f"the command took longer than {self.timeout:g} s") from None
        except BaseException:  # Ctrl-C, SIGTERM: leave no orphan behind
            _kill(child)
            raise
        if child.returncode != 0:
            last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise WorkFailed(f"the command exited with {child.returncode}: {last[0][:200]}")
        return _checked(out.decode(errors="replace"))


class PromptRunner:
    """Asks Claude: the agent's system prompt as system, the task's title and description as the message.

    Uses the ``anthropic`` SDK, which reads ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``;
    the model is ``ANTHROPIC_MODEL`` (default below).
    """

    DEFAULT_MODEL = "claude-sonnet-4-5"

    def __init__(self, system_prompt: str, timeout: float = 300.0) -> None:
        import anthropic

        self.system_prompt = system_prompt
        self.model = os.environ.get("ANTHROPIC_MODEL", self.DEFAULT_MODEL)
        self._client = anthropic.Anthropic(timeout=timeout, max_retries=1)
        self._errors = (anthropic.APIError,)

    def __call__(self, task: dict[str, Any]) -> str:
        message = f"{task['title']}\n\n{task.get('description', '')}".strip()
        try:
            reply = self._client.messages.create(
                model=self.model, max_tokens=4096, system=self.system_prompt,
                messages=[{"role": "user", "content": message}],
            )
        except self._errors as exc:
            raise WorkFailed(f"Claude failed: {exc}") from None
        return _checked("".join(getattr(block, "text", "") for block in reply.content))


def _kill(child: subprocess.Popen[bytes]) -> None:
    """Kill the command's whole process group and reap it."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.communicate()


def _checked(result: str) -> str:
    result = result.strip()
    if not result:
        raise WorkFailed("no output")
    if len(result) > MAX_RESULT_CHARS:
        raise WorkFailed(f"the output is over {MAX_RESULT_CHARS:,} characters")
    return result
