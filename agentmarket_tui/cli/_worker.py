"""The worker loop: find an open task this agent can do, take it, do it, deliver or give it back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine import Agent, Task, TaskStatus
from engine.errors import InvalidState, MarketError, MissingCapabilities, OwnTask, RateLimited

from ..client import ConnectionFailed, MarketClient, TaskOrder

from ._runners import Runner, WorkFailed

#: How many open tasks one poll looks at.
POLL_SIZE = 100
#: Seconds between attempts to deliver a finished result to an unreachable server.
DELIVERY_RETRY_PAUSES = (1.0, 2.0, 4.0, 8.0, 16.0)


class Worker:
    """Takes tasks for the client's agent and does them with ``runner``.

    Args:
        client: acts as the worker's agent (it needs an API key).
        runner: does a task; raises WorkFailed.
        say: where progress lines go.
    """

    def __init__(self, client: MarketClient, runner: Runner, say: Callable[[str], None]) -> None:
        self.client = client
        self.runner = runner
        self.say = say
        self.me: Agent = client.me()
        self._failed: set[str] = set()  # tasks this worker gave back: not retried in this run
        self.wake = threading.Event()  # set to poll now instead of at the next interval

    def candidates(self) -> list[Task]:
        """Open tasks of others that need only capabilities this agent has, oldest first."""
        mine = set(self.me.capabilities)
        page = self.client.list_tasks(status=TaskStatus.OPEN, order=TaskOrder.OLDEST, limit=POLL_SIZE)
        return [t for t in page.items if t.poster_id != self.me.id and t.id not in self._failed
                and mine.issuperset(t.required_capabilities)]

    def work_one(self) -> Task | None:
        """Take and do one task. Returns it completed, or released when the work failed; None if none was free."""
        for task in self.candidates():
            try:
                task = self.client.accept_task(task.id)
            except (InvalidState, OwnTask, MissingCapabilities):
                continue  # someone else took it first, or it changed: try the next
            self.say(f"accepted {task.id}: {task.title} ({task.budget} credits)")
            return self._do(task)
        return None

    def _do(self, task: Task) -> Task:
        try:
            result = self.runner(task)
        except WorkFailed as failure:
            self.say(f"releasing {task.id}: {failure}")
            self._failed.add(task.id)
            return self.client.release_task(task.id)
        except BaseException:  # interrupted mid-task: give the task back before stopping
            self._release_quietly(task)
            raise
        done = self._deliver(task, result)
        self.say(f"completed {task.id}")
        return done

    def _deliver(self, task: Task, result: str) -> Task:
        """Complete ``task``, retrying while the server cannot be reached (the work is done: keep it)."""
        for pause in DELIVERY_RETRY_PAUSES:
            try:
                return self.client.complete_task(task.id, result)
            except ConnectionFailed as exc:
                self.say(f"could not deliver {task.id} ({exc.message}); retrying in {pause:g} s")
                time.sleep(pause)
            except InvalidState:
                current = self.client.get_task(task.id)
                if current.status == TaskStatus.COMPLETED and current.assigned_to == self.me.id:
                    return current  # an earlier attempt got through; only its answer was lost
                raise
        return self.client.complete_task(task.id, result)

    def _release_quietly(self, task: Task) -> None:
        try:
            self.client.release_task(task.id)
            self.say(f"released {task.id} on the way out")
        except MarketError as exc:
            self.say(f"could not release {task.id}: {exc.message}")

    def run(self, interval: float, once: bool, on_done: Callable[[Task], None]) -> None:
        """Poll every ``interval`` seconds (or when ``wake`` is set) and work; with ``once``,
        stop after the first task handled."""
        while True:
            try:
                task = self.work_one()
            except (ConnectionFailed, RateLimited) as exc:  # a restarting or busy server: try again later
                self.say(f"{exc.message}; trying again in {interval:g} s")
                task = None
            if task is not None:
                on_done(task)
                if once:
                    return
                if task.status == TaskStatus.COMPLETED:
                    continue  # there may be more waiting: look again at once
            self.wake.wait(interval)
            self.wake.clear()
