"""The task list: filter by status and capability, search titles, sort, page; Enter opens a task."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Label, Select

from engine.states import TaskStatus

from ..client import Page, TaskOrder
from ..widgets.row_table import Column, RowTable
from .formatting import countdown, short_time
from .paging import PAGE_BINDINGS, PAGE_HINT, PagedScreen, Pager

PAGE_SIZE = 50
SEARCH_DELAY_SECONDS = 0.3
STATUSES = [("Any status", "")] + [(status.value.capitalize(), status.value) for status in TaskStatus]
ORDERS = [(order.label, order.value) for order in TaskOrder]
#: label, value: which of my tasks; "review" and "disputes" also fix the status (see FILTERS).
MINE = [("All tasks", ""), ("Posted by me", "posted"), ("Assigned to me", "assigned"),
        ("Needs my review", "review"), ("Disputes I settle", "disputes")]
#: filter -> (whose tasks, the status they must be in)
FILTERS = {"review": ("posted", TaskStatus.SUBMITTED), "disputes": ("evaluating", TaskStatus.DISPUTED)}
#: Title and Capabilities share the width the others leave; Posted goes first when it is narrow.
COLUMNS = (Column("Title", 20, flex=3, max_width=60), Column("Status", 9), Column("Budget", 6, justify="right"),
           Column("Due in", 7), Column("Capabilities", 12, flex=1, max_width=32),
           Column("Posted", 16, optional=True))
STATUS_STYLES = {TaskStatus.OPEN: "green", TaskStatus.ASSIGNED: "yellow", TaskStatus.COMPLETED: "cyan",
                 TaskStatus.CANCELLED: "dim", TaskStatus.FAILED: "red", TaskStatus.SUBMITTED: "magenta",
                 TaskStatus.DISPUTED: "bold red", TaskStatus.EXPIRED: "dim", TaskStatus.REFUNDED: "dim"}


def status_text(status: str) -> Text:
    """A task status in its colour."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


class TasksScreen(PagedScreen):
    """One page of the market's tasks at a time, so it stays quick with any number of tasks."""

    AUTO_FOCUS = "#tasks-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "post_task", "Post task"),
        *PAGE_BINDINGS,
        Binding("slash", "focus_search", "Search"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pager = Pager(PAGE_SIZE)
        self._typing: Timer | None = None

    def compose_body(self) -> ComposeResult:
        yield Label("Tasks", classes="screen-title")
        with Horizontal(classes="toolbar", id="task-filters"):
            yield Input(placeholder="search titles", id="task-search", compact=True)
            yield Input(placeholder="capability", id="task-capability", compact=True)
            yield Select(STATUSES, value="", allow_blank=False, id="task-status", compact=True)
            yield Select(ORDERS, value=TaskOrder.NEWEST.value, allow_blank=False, id="task-order", compact=True)
            yield Select(MINE, value="", allow_blank=False, id="task-mine", compact=True)
        yield RowTable(*COLUMNS, empty="No tasks match", id="tasks-table")
        yield Label("", id="tasks-page", classes="muted")

    def load(self) -> Page[Any]:
        mine = str(self.query_one("#task-mine", Select).value) or None
        status = str(self.query_one("#task-status", Select).value) or None
        if mine in FILTERS:
            mine, status = FILTERS[mine]
        return self.client.list_tasks(
            status=status,
            capability=self.query_one("#task-capability", Input).value.strip() or None,
            search=self.query_one("#task-search", Input).value.strip() or None,
            order=str(self.query_one("#task-order", Select).value),
            mine=mine,
            limit=PAGE_SIZE,
            cursor=self.pager.cursor,
        )

    def show(self, page: Page[Any]) -> None:
        now = self.app.clock()  # type: ignore[attr-defined]
        self.query_one("#tasks-table", RowTable).set_rows([
            (task.id, (Text(task.title, style="bold"), status_text(task.status), Text(f"{task.budget:,}"),
                       countdown(task.due_at, now), Text(", ".join(task.required_capabilities)),
                       Text(short_time(task.created_at), style="dim")))
            for task in page.items])
        summary = self.pager.summary(page, f"{PAGE_HINT}   Enter: open   n: post")
        # Its width is fixed by the stylesheet: no layout of the screen for a new page.
        self.query_one("#tasks-page", Label).update(summary, layout=False)

    @on(Input.Changed)
    def _typed(self) -> None:
        """Wait for a pause in typing before searching, so each keystroke does not query the market."""
        if self._typing is not None:
            self._typing.stop()
        self._typing = self.set_timer(SEARCH_DELAY_SECONDS, self._filters_changed)

    @on(Input.Submitted)
    def _typed_and_entered(self) -> None:
        """Enter applies the search and capability now, without waiting for the typing pause."""
        if self._typing is not None:
            self._typing.stop()
            self._typing = None
        self._filters_changed()

    @on(Select.Changed)
    def _filters_changed(self) -> None:
        self.pager.reset()
        self.reload()

    def action_focus_search(self) -> None:
        self.query_one("#task-search", Input).focus()

    def action_post_task(self) -> None:
        from .post_task import PostTaskScreen

        self.app.push_screen(PostTaskScreen())

    @on(RowTable.RowSelected, "#tasks-table")
    def _open_task(self, event: RowTable.RowSelected) -> None:
        from .task_detail import TaskDetailScreen

        self.app.push_screen(TaskDetailScreen(event.key))
