"""One task: its description, money, timeline and result, and the actions you may take on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Label, Markdown, Static

from engine.errors import MarketError
from engine.records import Event, Task
from engine.states import Action, allowed_actions, flow, may

from .base import MarketScreen
from .formatting import countdown, event_sentence
from .task_dialogs import RatingDialog, ReasonDialog, ResultDialog, ShareDialog
from .tasks import status_text



@dataclass(frozen=True)
class TaskView:
    """A task, its timeline and who is looking at it."""

    task: Task
    timeline: list[Event]
    me: str | None
    names: dict[str, str]
    now: datetime  # what countdowns count from

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


#: The actions the screen offers (the market's own, such as expiry, are never offered).
OFFERED = (Action.ACCEPT, Action.COMPLETE, Action.RELEASE, Action.CANCEL, Action.RATE, Action.APPROVE,
           Action.REJECT, Action.RESOLVE)


def my_actions(task: Task, me: str | None) -> set[Action]:
    """What agent ``me`` may do to ``task`` now, as the state machine and its roles say
    (``states.may``), less what the engine would refuse anyway: rating twice, an evaluator
    accepting."""
    if me is None:
        return set()
    task_flow = flow(task.kind, task.review_hours)
    refused = {Action.RATE: task.rating is not None, Action.ACCEPT: me == task.evaluator_id}
    return {action for action in allowed_actions(task_flow, task.status)
            if action in OFFERED and not refused.get(action, False)
            and may(action, task_flow, task.status, me, task.poster_id, task.assigned_to, task.evaluator_id)}


def _timer_rows(view: TaskView) -> list[tuple[str, Text]]:
    """The deadline, claim and review windows (with what is left of the running one), the
    evaluator and the dispute, as far as they apply."""
    task, now = view.task, view.now
    running = task.due_at

    def when(at: str | None) -> Text:
        if at is None:
            return Text("—")
        text = Text(at[:16].replace("T", " ") + " UTC")
        if at == running:
            text.append("  (").append_text(countdown(at, now)).append(" left)")
        return text

    rows = [("Deadline", when(task.deadline))]
    if task.status == "assigned":
        rows.append(("Claim ends", when(task.claim_expires_at)))
    else:
        rows.append(("Claim window", Text(f"{task.claim_seconds // 3600}h {task.claim_seconds % 3600 // 60}m")))
    if task.review_hours:
        rows.append(("Review", Text(f"{task.review_hours}h after submission")))
    if task.status == "submitted":
        rows.append(("Review ends", when(task.review_ends_at)))
    if task.evaluator_id:
        rows.append(("Evaluator", Text(view.who(task.evaluator_id))))
    if task.dispute_reason is not None:
        rows.append(("Rejected", Text(task.dispute_reason)))
    if task.worker_share is not None:
        rows.append(("Settled", Text(f"{task.worker_share}% to the worker"
                                     + (f" — {task.resolution_note}" if task.resolution_note else ""))))
    return rows


class TaskDetailScreen(MarketScreen):
    """A task's full story; buttons (and keys) only for what the current agent may do."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+a", "act('accept')", "Accept"),
        Binding("ctrl+s", "act('complete')", "Complete"),
        Binding("ctrl+x", "act('cancel')", "Cancel task"),
        Binding("ctrl+r", "act('release')", "Release"),
        Binding("ctrl+t", "act('rate')", "Rate"),
        Binding("ctrl+g", "act('approve')", "Approve"),
        Binding("ctrl+y", "act('reject')", "Reject"),
        Binding("ctrl+o", "act('resolve')", "Resolve"),
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
            yield Button("Approve ^g", id="approve", variant="success", compact=True)
            yield Button("Reject ^y", id="reject", variant="error", compact=True)
            yield Button("Resolve ^o", id="resolve", variant="primary", compact=True)

    def load(self) -> TaskView:
        task = self.client.get_task(self.task_id)
        me = None
        if self.client.api_key:
            try:
                me = self.client.me().id
            except MarketError:
                me = None
        names = {}
        for agent_id in filter(None, {task.poster_id, task.assigned_to, task.evaluator_id}):
            try:
                names[agent_id] = self.client.get_agent(agent_id).name
            except MarketError:
                pass  # an agent we may not see: its id will do
        return TaskView(task, self.client.task_timeline(self.task_id), me, names, self.app.clock())  # type: ignore[attr-defined]

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
        for action in OFFERED:
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
        if task.kind == "market":
            rows += _timer_rows(view)
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
            Action.APPROVE: (self.client.approve_task, self.task_id),
        }
        if action is Action.COMPLETE:
            self.app.push_screen(ResultDialog(), lambda result: self._answered(self.client.complete_task, result))
            return
        if action is Action.RATE:
            self.app.push_screen(RatingDialog(), lambda rating: self._answered(self.client.rate_task, rating))
            return
        if action is Action.REJECT:
            self.app.push_screen(ReasonDialog(), lambda reason: self._answered(self.client.reject_task, reason))
            return
        if action is Action.RESOLVE:
            self.app.push_screen(ShareDialog(), lambda share: self._answered(self.client.resolve_task, share))
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
