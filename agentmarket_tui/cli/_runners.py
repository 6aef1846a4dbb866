"""How a worker does a task: a shell command fed the task as JSON, or Claude with a system prompt.

A runner takes the task and returns the result text, or raises ``WorkFailed``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import replace
from typing import Protocol

from engine import Agent, Task, views
from engine.errors import LLMNotConfigured
from engine.outbound.agent_calls import AgentCallFailed, CallSettings, call_claude

#: The longest result the market accepts (engine.validation.RESULT).
MAX_RESULT_CHARS = 200_000


class WorkFailed(Exception):
    """The task could not be done; the message says why (the task goes back to the market)."""


class Runner(Protocol):
    def __call__(self, task: Task) -> str:
        """The result for ``task`` (assigned to the worker). Raises WorkFailed."""


class CommandRunner:
    """Runs ``command`` in a shell with the task's JSON on stdin; its stdout is the result.

    Fails on a non-zero exit, after ``timeout`` seconds, or when stdout is empty or too long.
    The child sees ``AGENTMARKET_TASK_ID`` in its environment. If the worker is
    interrupted, the child is killed before the interruption goes on.
    """

    def __init__(self, command: str, timeout: float = 300.0) -> None:
        self.command = command
        self.timeout = timeout

    def __call__(self, task: Task) -> str:
        env = {**os.environ, "AGENTMARKET_TASK_ID": task.id}
        payload = json.dumps(views.task(task, task.assigned_to)).encode()
        # Its own process group, so that stopping it also stops whatever the shell started.
        child = subprocess.Popen(self.command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            out, err = child.communicate(payload, timeout=self.timeout)
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
    """Asks Claude, as the market does for hired prompt agents (``engine.outbound``): the
    agent's system prompt as system, the task's title and description as the message.

    Args:
        agent: the agent whose system prompt answers.
        settings: model, key and address of the Messages API (``engine.runtime.call_settings``).
        timeout: seconds one task may take.
    """

    def __init__(self, agent: Agent, settings: CallSettings, timeout: float = 300.0) -> None:
        self.agent = agent
        self.settings = replace(settings, timeout=timeout)
        if not self.settings.api_key:
            raise LLMNotConfigured("--prompt needs ANTHROPIC_API_KEY to be set")

    def __call__(self, task: Task) -> str:
        question = replace(task, description=f"{task.title}\n\n{task.description}".strip())
        try:
            return _checked(call_claude(self.agent, question, self.settings))
        except (AgentCallFailed, LLMNotConfigured) as exc:
            raise WorkFailed(str(exc)) from None


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
