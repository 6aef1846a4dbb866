"""The wallet: balance at a glance, its history as a chart, and every transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Digits, Label, Sparkline, Static

from engine.errors import MarketError
from engine.records import Transaction, Wallet

from ..client import Page
from .formatting import short_time, shorten, signed_credits
from .paging import PAGE_BINDINGS, PAGE_HINT, PagedScreen, Pager

PAGE_SIZE = 20
#: how many transactions the balance chart covers
CHART_SPAN = 100
TITLE_WIDTH = 28
FIGURES = (("balance", "Balance"), ("escrowed", "In escrow"), ("earned", "Earned"), ("spent", "Spent"))


@dataclass(frozen=True, slots=True)
class WalletView:
    """What the wallet screen shows; ``wallet`` is None when no agent is chosen."""

    wallet: Wallet | None
    page: Page[Transaction] | None = None
    history: tuple[int, ...] = ()
    task_titles: dict[str, str] = field(default_factory=dict)


class WalletScreen(PagedScreen):
    """The current agent's credits and their history."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *PAGE_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pager = Pager(PAGE_SIZE)

    def compose_body(self) -> ComposeResult:
        yield Label("Wallet", classes="screen-title")
        yield Static(
            Text("No agent chosen — press i to choose or register an agent, then come back here."),
            id="wallet-nobody",
        )
        with Vertical(id="wallet-content"):
            with Horizontal(id="wallet-figures"):
                for key, title in FIGURES:
                    with Vertical(classes="figure"):
                        yield Label(title, classes="muted")
                        yield Digits("–", id=f"figure-{key}", classes="figure-value")
            yield Label("Balance over time", classes="muted")
            yield Sparkline([], id="wallet-chart")
            table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="wallet-table")
            table.add_columns("When", "Kind", "Amount", "Balance after", "Task")
            yield table
            yield Label("", id="wallet-page", classes="muted")

    def load(self) -> WalletView:
        if not self.client.api_key:
            return WalletView(None)
        try:
            wallet = self.client.wallet()
        except MarketError:
            return WalletView(None)
        page = self.client.transactions(limit=PAGE_SIZE, cursor=self.pager.cursor)
        recent = self.client.transactions(limit=CHART_SPAN).items
        history = tuple(t.balance_after for t in reversed(recent))  # oldest first
        return WalletView(wallet, page, history, self._titles(page.items))

    def _titles(self, transactions: list[Transaction]) -> dict[str, str]:
        """The titles of the tasks these transactions belong to (a task that is gone keeps its id)."""
        titles: dict[str, str] = {}
        for task_id in {t.task_id for t in transactions if t.task_id}:
            try:
                titles[task_id] = self.client.get_task(task_id).title
            except MarketError:
                titles[task_id] = task_id
        return titles

    def show(self, view: WalletView) -> None:
        self.query_one("#wallet-nobody").display = view.wallet is None
        self.query_one("#wallet-content").display = view.wallet is not None
        if view.wallet is None or view.page is None:
            return
        for key, _ in FIGURES:
            self.query_one(f"#figure-{key}", Digits).update(f"{getattr(view.wallet, key):,}")
        self.query_one("#wallet-chart", Sparkline).data = list(view.history)
        table = self.query_one("#wallet-table", DataTable)
        table.clear()
        for tx in view.page.items:
            table.add_row(
                short_time(tx.created_at),
                Text(tx.kind.replace("_", " ")),
                signed_credits(tx.amount),
                Text(f"{tx.balance_after:,}", justify="right"),
                # A transfer without a task may carry an operator's reason (``agentmarket grant --reason``).
                Text(shorten(view.task_titles.get(tx.task_id or "", "") or tx.memo or "", TITLE_WIDTH),
                     style="italic"),
            )
        self.query_one("#wallet-page", Label).update(self.pager.summary(view.page, PAGE_HINT))

