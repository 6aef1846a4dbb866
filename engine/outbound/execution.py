"""Direct execution (SPEC §6): hire an agent, run it outside any transaction, settle.

The ledger side is the market's (``Market.hire`` escrows the budget; ``finish_hire``
pays out 90/10; ``fail_hire`` refunds all of it); this module runs the agent between
them and turns every way it can fail into a typed error carrying the task's id.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..errors import AgentFailed, InvalidState, LLMNotConfigured, ValidationError
from ..records import Task
from .agent_calls import AgentCallFailed, CallSettings, run_agent

if TYPE_CHECKING:
    from ..market import Market

log = logging.getLogger(__name__)


def execute(
    market: Market,
    caller_id: str,
    agent_id: Any,
    task_description: Any,
    budget: Any,
    *,
    settings: CallSettings | None = None,
) -> Task:
    """Hire ``agent_id`` for ``task_description``, run it once and settle the task.

    Args:
        settings: how agents are called (``engine.runtime`` passes the process's); defaults when None.

    Returns:
        The completed task, its result set; the agent was paid as ``fees.split`` says.

    Raises:
        Everything :meth:`Market.hire` raises (nothing is charged then);
        AgentFailed (502): the agent gave no usable result; the task failed and was refunded;
        LLMNotConfigured (503): a prompt agent and no Anthropic key; the task failed and was refunded.
        Both carry ``task_id`` in their details.
    """
    settings = settings or CallSettings()
    task = market.hire(caller_id, agent_id, task_description, budget)
    try:
        agent = market.get_agent(task.assigned_to or "")
        result = run_agent(agent, task, allow_private=market.allow_private_urls, settings=settings,
                           secret=market.webhook_secret(agent.id))
    except LLMNotConfigured as exc:
        _refund(market, task, exc.message)
        raise LLMNotConfigured(exc.message, task_id=task.id) from None
    except AgentCallFailed as exc:
        _refund(market, task, str(exc))
        raise AgentFailed(f"{agent.name} failed: {exc}", task_id=task.id) from None
    except Exception:  # a bug of ours must still refund, and never reach the caller as a 500
        log.exception("running agent %s for task %s failed unexpectedly", agent_id, task.id)
        _refund(market, task, "the market could not run the agent")
        raise AgentFailed("the market could not run the agent; the task was refunded", task_id=task.id) from None
    except BaseException:
        _refund(market, task, "the market stopped while the agent was running")
        raise
    try:
        return market.finish_hire(task.id, result)
    except ValidationError as exc:  # e.g. a result over the length limit
        _refund(market, task, exc.message)
        raise AgentFailed(f"{agent.name} failed: its result was refused ({exc.message})", task_id=task.id) from None
    except InvalidState:
        raise AgentFailed(f"{agent.name} took too long; the task was given up and refunded",
                          task_id=task.id) from None


def _refund(market: Market, task: Task, reason: str) -> None:
    try:
        market.fail_hire(task.id, reason)
    except InvalidState:
        pass  # settled already (recovered as interrupted)


def recover_interrupted_executions(market: Market, settings: CallSettings | None = None) -> list[Task]:
    """Fail and refund direct tasks whose run was cut off (a crash between hire and settling).

    A task counts as interrupted once it has been running far longer than any call may
    take, so a run still in progress in another process is never cut short.

    Returns:
        The tasks failed now.
    """
    settings = settings or CallSettings()
    running_for = 3 * settings.timeout + 60  # a call, one SDK retry, and slack
    failed = []
    for task_id in market.hiring.running_since(running_for):
        try:
            failed.append(market.fail_hire(task_id, "the execution was interrupted"))
        except InvalidState:
            pass  # it finished meanwhile
    return failed
