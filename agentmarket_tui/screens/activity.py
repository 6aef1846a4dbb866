"""The live feed: everything that happens in the market, as sentences."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, RichLog

from engine.errors import MarketError
from engine.records import Event

from .base import MarketScreen
from .formatting import event_sentence, shorten

#: how many events one fetch asks for, and how many the first view goes back
BATCH = 1000
BACKLOG = 200
TITLE_WIDTH = 40


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """The sentences for the events after ``after_seq`` up to ``last_seq``."""

    after_seq: int
    last_seq: int
    lines: list[Text]


class ActivityScreen(MarketScreen):
    """Market events as they happen, newest at the bottom; follows new ones live."""

    def __init__(self) -> None:
        super().__init__()
        self.last_seq = 0
        self._agent_names: dict[str, str] = {}
        self._task_titles: dict[str, str] = {}

    def compose_body(self) -> ComposeResult:
        yield Label("Activity — live", classes="screen-title")
        yield RichLog(id="activity-log", wrap=True, markup=False, auto_scroll=True)

    def load(self) -> FeedUpdate:
        """New events since the last shown one, as sentences (names resolved once, then cached)."""
        start = after = self.last_seq
        events: list[Event] = []
        while True:
            batch = self.client.events(after=after, limit=BATCH)
            events.extend(batch)
            if batch:
                after = batch[-1].seq
            if len(batch) < BATCH:
                break
        return FeedUpdate(start, after, [self._sentence(event) for event in events[-BACKLOG:]])

    def show(self, update: FeedUpdate) -> None:
        # Loads can overlap (a newer one replaces an older one); append each stretch of the feed once.
        if update.after_seq != self.last_seq:
            return
        self.last_seq = update.last_seq
        log = self.query_one("#activity-log", RichLog)
        for line in update.lines:
            log.write(line)

    # -- sentences ----------------------------------------------------------------------
    def _sentence(self, event: Event) -> Text:
        data = event.data
        if event.type == "agent.registered" and event.agent_id:
            self._agent_names[event.agent_id] = str(data.get("name", ""))
        if event.type == "task.posted" and event.task_id:
            self._task_titles[event.task_id] = str(data.get("title", ""))
        return event_sentence(event, self._agent_name, self._task_title(event.task_id))

    def _agent_name(self, agent_id: str | None) -> str:
        if agent_id is None:
            return "someone"
        if agent_id not in self._agent_names:
            try:
                self._agent_names[agent_id] = self.client.get_agent(agent_id).name
            except MarketError:
                self._agent_names[agent_id] = "an agent"
        return self._agent_names[agent_id]

    def _task_title(self, task_id: str | None) -> str:
        if task_id is None:
            return "a task"
        if task_id not in self._task_titles:
            try:
                self._task_titles[task_id] = self.client.get_task(task_id).title
            except MarketError:
                self._task_titles[task_id] = "a task"
        return f"'{shorten(self._task_titles[task_id], TITLE_WIDTH)}'"
