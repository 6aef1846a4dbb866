"""One task: its description, money, timeline and result, and the actions you may take on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Label, Markdown, Static

from engine.errors import MarketError
from engine.records import Event, Task
from engine.states import Action, allowed_actions

from .base import MarketScreen
from .formatting import event_sentence
from .task_dialogs import RatingDialog, ResultDialog
from .tasks import status_text



@dataclass(frozen=True)
class TaskView:
    """A task, its timeline and who is looking at it."""

    task: Task
    timeline: list[Event]
    me: str | None
    names: dict[str, str]

    def who(self, agent_id: str | None) -> str:
        """'you', the agent's name, or '—' for nobody."""
        if agent_id is None:
            return "—"
        return "you" if agent_id == self.me else self.names.get(agent_id, agent_id)

    def who_did(self, agent_id: str | None) -> str:
        """The subject of a timeline sentence: 'You', a name, or 'Someone'."""
        if agent_id is None:
            return "Someone"
        return "You" if agent_id == self.me else self.names.get(agent_id, "an agent")


def my_actions(task: Task, me: str | None) -> set[Action]:
    """What agent ``me`` may do to ``task`` now: the state machine's actions that fit its role."""
    if me is None:
        return set()
    poster, assignee = me == task.poster_id, me == task.assigned_to
    by_role = {
        Action.ACCEPT: not poster,
        Action.COMPLETE: assignee,
        Action.CANCEL: poster,
        Action.RELEASE: assignee,
        Action.RATE: poster and task.rating is None,
    }
    return {action for action in allowed_actions(task.kind, task.status) if by_role.get(action, False)}


class TaskDetailScreen(MarketScreen):
    """A task's full story; buttons (and keys) only for what the current agent may do."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+a", "act('accept')", "Accept"),
        Binding("ctrl+s", "act('complete')", "Complete"),
        Binding("ctrl+x", "act('cancel')", "Cancel task"),
        Binding("ctrl+r", "act('release')", "Release"),
        Binding("ctrl+t", "act('rate')", "Rate"),
    ]

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id
        self.actions: set[Action] = set()

    def compose_body(self) -> ComposeResult:
        yield Label("Task", id="task-title", classes="screen-title")
        with VerticalScroll(id="task-body"):
            yield Static("", id="task-facts")
            yield Markdown("", id="task-description")
            yield Label("Timeline", classes="section-title")
            yield Static("", id="task-timeline")
            yield Label("Result", id="task-result-title", classes="section-title")
            yield Static("", id="task-result")
        with Horizontal(classes="toolbar", id="task-actions"):
            yield Button("Accept ^a", id="accept", variant="primary", compact=True)
            yield Button("Complete ^s", id="complete", variant="success", compact=True)
            yield Button("Release ^r", id="release", compact=True)
            yield Button("Cancel ^x", id="cancel", variant="error", compact=True)
            yield Button("Rate ^t", id="rate", variant="primary", compact=True)

    def load(self) -> TaskView:
        task = self.client.get_task(self.task_id)
        me = None
        if self.client.api_key:
            try:
                me = self.client.me().id
            except MarketError:
                me = None
        names = {}
        for agent_id in filter(None, {task.poster_id, task.assigned_to}):
            try:
                names[agent_id] = self.client.get_agent(agent_id).name
            except MarketError:
                pass  # an agent we may not see: its id will do
        return TaskView(task, self.client.task_timeline(self.task_id), me, names)

    def show(self, view: TaskView) -> None:
        task = view.task
        self.actions = my_actions(task, view.me)
        self.query_one("#task-title", Label).update(Text(task.title))
        self.query_one("#task-facts", Static).update(self._facts(view))
        self.query_one("#task-description", Markdown).update(task.description or "*No description.*")
        timeline = Text("\n").join(event_sentence(event, view.who_did, "it") for event in view.timeline)
        self.query_one("#task-timeline", Static).update(timeline)
        has_result = task.result is not None
        self.query_one("#task-result-title").display = has_result
        self.query_one("#task-result", Static).display = has_result
        self.query_one("#task-result", Static).update(Text(task.result or ""))
        for action in (Action.ACCEPT, Action.COMPLETE, Action.RELEASE, Action.CANCEL, Action.RATE):
            self.query_one(f"#{action.value}").display = action in self.actions
        self.refresh_bindings()

    @staticmethod
    def _facts(view: TaskView) -> Text:
        task = view.task
        facts = Text()
        rows = [
            ("Status", status_text(task.status)),
            ("Budget", Text(f"{task.budget:,} credits")),
            ("In escrow", Text(f"{task.escrow:,} credits")),
            ("Needs", Text(", ".join(task.required_capabilities) or "anything")),
            ("Posted by", Text(view.who(task.poster_id))),
            ("Assigned to", Text(view.who(task.assigned_to))),
        ]
        if task.rating is not None:
            rows.append(("Rating", Text("★" * task.rating, style="yellow")))
        for label, value in rows:
            facts.append(f"{label:<13}", style="bold")
            facts.append_text(value)
            facts.append("\n")
        return facts

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            return Action(str(parameters[0])) in self.actions
        return True

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id in {a.value for a in Action}:
            self.action_act(str(event.button.id))

    def action_act(self, name: str) -> None:
        """Take action ``name`` on the task in the background; the screen reloads when it lands."""
        action = Action(name)
        if action not in self.actions:
            return
        calls: dict[Action, tuple[Any, ...]] = {
            Action.ACCEPT: (self.client.accept_task, self.task_id),
            Action.CANCEL: (self.client.cancel_task, self.task_id),
            Action.RELEASE: (self.client.release_task, self.task_id),
        }
        if action is Action.COMPLETE:
            self.app.push_screen(ResultDialog(), lambda result: self._answered(self.client.complete_task, result))
            return
        if action is Action.RATE:
            self.app.push_screen(RatingDialog(), lambda rating: self._answered(self.client.rate_task, rating))
            return
        fn, *args = calls[action]
        self.call_market(fn, *args, on_done=self._done, success=f"Task {action.value} done")

    def _answered(self, fn: Any, answer: object) -> None:
        """Call ``fn(task_id, answer)`` once a dialog was answered (None: it was cancelled)."""
        if answer is not None:
            self.call_market(fn, self.task_id, answer, on_done=self._done, success="Done")

    def _done(self, _: Task) -> None:
        self.app.refresh_identity()  # type: ignore[attr-defined]
        self.reload()
