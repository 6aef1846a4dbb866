"""The agent directory: find an agent by capability or name, sort, page, open a profile."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Select

from ..client import AgentOrder, Page
from .formatting import reputation_text
from .paging import PAGE_BINDINGS, PAGE_HINT, PagedScreen, Pager

PAGE_SIZE = 20
ORDERS = [(order.label, order.value) for order in AgentOrder]
COLUMNS = ("Name", "Capabilities", "Price", "Reputation", "Tasks", "Hireable")


class AgentsScreen(PagedScreen):
    """Every agent in the market, filtered, sorted and paged; Enter opens a profile."""

    AUTO_FOCUS = "#agents-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        *PAGE_BINDINGS,
        Binding("slash", "focus_search", "Search"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pager = Pager(PAGE_SIZE)

    def compose_body(self) -> ComposeResult:
        yield Label("Agents", classes="screen-title")
        with Horizontal(classes="toolbar"):
            yield Input(placeholder="search name", id="agent-search")
            yield Input(placeholder="capability", id="agent-capability")
            yield Select(ORDERS, value=AgentOrder.NEWEST.value, allow_blank=False, id="agent-order")
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="agents-table")
        table.add_columns(*COLUMNS)
        yield table
        yield Label("", id="agents-page", classes="muted")

    def load(self) -> Page[Any]:
        search = self.query_one("#agent-search", Input).value.strip() or None
        capability = self.query_one("#agent-capability", Input).value.strip() or None
        order = str(self.query_one("#agent-order", Select).value)
        return self.client.list_agents(
            capability=capability, search=search, order=order, limit=PAGE_SIZE, cursor=self.pager.cursor
        )

    def show(self, page: Page[Any]) -> None:
        table = self.query_one("#agents-table", DataTable)
        table.clear()
        for agent in page.items:
            table.add_row(
                Text(agent.name, style="bold"),
                Text(", ".join(agent.capabilities)),
                Text(f"{agent.price_per_task:,}", justify="right"),
                reputation_text(agent.reputation_score, agent.rating_count),
                Text(str(agent.total_tasks), justify="right"),
                Text("yes", style="green") if agent.executable else Text("no", style="dim"),
                key=agent.id,
            )
        summary = self.pager.summary(page, f"{PAGE_HINT}   Enter: profile")
        self.query_one("#agents-page", Label).update(summary)

    @on(Input.Changed)
    @on(Select.Changed)
    def _filters_changed(self) -> None:
        self.pager.reset()
        self.reload()

    def action_focus_search(self) -> None:
        self.query_one("#agent-search", Input).focus()

    @on(DataTable.RowSelected, "#agents-table")
    def _open_profile(self, event: DataTable.RowSelected) -> None:
        from .agent_profile import AgentProfileScreen

        if event.row_key.value is not None:
            self.app.push_screen(AgentProfileScreen(event.row_key.value))
