"""The hiring service: the ledger side of a direct execution (SPEC §6).

:meth:`HiringService.hire` escrows the budget and assigns a direct task; the agent then
runs outside any transaction (``engine.outbound.execution``, composed above the engine),
and the task is settled with :meth:`~HiringService.finish` or :meth:`~HiringService.fail`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .. import validation as v
from ..errors import AgentNotExecutable, SelfHire, ValidationError
from ..records import Task
from ..states import Action, TaskStatus
from .agents import found_agent
from .context import MarketContext
from .ledger import post_charged
from .tasks import TaskService

#: Hires an agent, runs it and settles the task: ``runner(market, caller_id, agent_id,
#: task_description, budget) -> Task``, ``market`` being the ``engine.Market`` (typed Any
#: here so this module need not import the façade above it). ``engine.outbound.execute``
#: is the real one.
HireRunner = Callable[[Any, str, Any, Any, Any], Task]


class HiringService:
    """Direct hires: escrow, assign, settle."""

    def __init__(self, ctx: MarketContext, tasks: TaskService) -> None:
        self._ctx = ctx
        self._tasks = tasks

    def hire(self, caller_id: str, agent_id: Any, task_description: Any, budget: Any) -> Task:
        """Open a direct task assigned to ``agent_id`` and escrow its budget from the caller.

        Raises:
            ValidationError (also for a budget under the agent's price); NotFound;
            SelfHire (403); AgentNotExecutable (400); InsufficientCredits (402).
        """
        data = v.EXECUTION.validate({"agent_id": agent_id, "task_description": task_description, "budget": budget})
        budget, description = data["budget"], data["task_description"]
        ctx = self._ctx
        task_id = ctx.new_id()
        now = ctx.now()
        with ctx.store.write() as tx:
            target = found_agent(tx, data["agent_id"])
            if target.id == caller_id:
                raise SelfHire("an agent cannot hire itself")
            if not target.executable:
                raise AgentNotExecutable(f"{target.name} has neither an endpoint_url nor a system_prompt")
            if budget < target.price_per_task:
                raise ValidationError("budget", f"budget must be at least {target.name}'s price of {target.price_per_task}")
            title = " ".join(description.split())
            title = title if len(title) <= 80 else title[:79] + "…"
            task = Task(
                id=task_id, title=title or "Direct hire", description=description, budget=budget,
                required_capabilities=(), status=TaskStatus.ASSIGNED, kind="direct", poster_id=caller_id,
                assigned_to=target.id, result=None, rating=None, escrow=budget, created_at=now, updated_at=now,
            )
            post_charged(tx, task, now)
            tx.events.add("task.hired", task_id, caller_id, now, {"agent_id": target.id, "budget": budget})
        return task

    def finish(self, task_id: str, result: Any) -> Task:
        """Settle a direct task that produced ``result``: paid out as ``fees.split`` says, completed."""
        result = v.RESULT.validate({"result": result})["result"]
        return self._tasks.change(task_id, Action.SUCCEED, None, result=result)

    def fail(self, task_id: str, reason: str) -> Task:
        """Settle a direct task whose agent failed: status failed, whole escrow refunded."""
        return self._tasks.change(task_id, Action.FAIL, None, event_data={"reason": reason[:500]})

    def running_since(self, seconds: float) -> list[str]:
        """Ids of direct tasks still running (``assigned``) with no change for ``seconds``."""
        cutoff = (self._ctx.clock() - timedelta(seconds=seconds)).strftime(v.TIME_FORMAT)
        with self._ctx.store.read() as tx:
            return tx.tasks.running_direct(cutoff)
