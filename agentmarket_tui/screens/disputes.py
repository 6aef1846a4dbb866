"""The operator's open disputes (SPEC §10): disputed tasks, oldest first; on a local market the
operator settles one with Enter. Remotely the list shows, but settling needs the market file."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Label

from engine.states import TaskStatus

from ..client import Page, TaskOrder
from .formatting import shorten, short_time
from .paging import PAGE_BINDINGS, PAGE_HINT, PagedScreen, Pager
from .task_dialogs import ShareDialog

PAGE_SIZE = 50
COLUMNS = ("Title", "Budget", "Settled by", "Disputed", "Reason")


class DisputesScreen(PagedScreen):
    """Open disputes; Enter settles the highlighted one as the market's operator (local markets)."""

    AUTO_FOCUS = "#disputes-table"
    BINDINGS: ClassVar[list[BindingType]] = [*PAGE_BINDINGS]

    def __init__(self) -> None:
        super().__init__()
        self.pager = Pager(PAGE_SIZE)
        self._tasks: dict[str, Any] = {}

    def compose_body(self) -> ComposeResult:
        yield Label("Open disputes", classes="screen-title")
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="disputes-table")
        table.add_columns(*COLUMNS)
        yield table
        yield Label("", id="disputes-page", classes="muted")

    def load(self) -> Page[Any]:
        return self.client.list_tasks(status=TaskStatus.DISPUTED, order=TaskOrder.OLDEST, limit=PAGE_SIZE,
                                      offset=self.pager.offset)

    def show(self, page: Page[Any]) -> None:
        table = self.query_one("#disputes-table", DataTable)
        table.clear()
        self._tasks = {task.id: task for task in page.items}
        for task in page.items:
            table.add_row(
                Text(task.title, style="bold"),
                Text(f"{task.budget:,}", justify="right"),
                Text("its evaluator" if task.evaluator_id else "the operator"),
                Text(short_time(task.updated_at), style="dim"),
                Text(shorten(task.dispute_reason or "", 60)),
                key=task.id,
            )
        hint = "Enter: settle as operator" if self._operator() else "settling needs the local market file"
        self.query_one("#disputes-page", Label).update(self.pager.summary(page, f"{PAGE_HINT}   {hint}"))

    def _operator(self) -> Any:
        return getattr(self.app, "operator", None)

    @on(DataTable.RowSelected, "#disputes-table")
    def _settle(self, event: DataTable.RowSelected) -> None:
        operator, task_id = self._operator(), event.row_key.value
        if operator is None or task_id is None:
            self.app.notify("Settle disputes with the local market file open (agentmarket tui --db FILE).",
                            severity="warning")
            return

        def settle(share: int | None) -> None:
            if share is not None:
                self.call_market(operator, task_id, share, "", on_done=lambda _: self.reload(),
                                 success=f"Dispute settled: {share}% to the worker")

        self.app.push_screen(ShareDialog(), settle)
