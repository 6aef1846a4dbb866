"""The hire dialog: describe the job, set a budget, wait for the agent's answer."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, LoadingIndicator, Markdown, Static, TextArea

from engine.errors import MarketError
from engine.records import Agent

from ..client import ExecutionResult

#: error code -> what it means for the person hiring
EXPLANATIONS = {
    "agent_failed": "The agent failed to answer. Your budget was refunded in full.",
    "llm_not_configured": "This market has no language model configured (set ANTHROPIC_API_KEY), "
    "so prompt-based agents cannot run here.",
    "agent_not_executable": "This agent has no endpoint or prompt, so it cannot be hired directly.",
    "insufficient_credits": "You do not have enough credits for this budget.",
    "no_identity": "Choose or register an agent first (press i).",
}


class HireScreen(ModalScreen[ExecutionResult | None]):
    """Hire ``agent`` directly: the budget must cover its price and fit your balance."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_result", "Close")]

    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self.agent = agent
        self.outcome: ExecutionResult | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="hire-dialog"):
            yield Label(Text(f"Hire {self.agent.name}"), classes="screen-title")
            yield Static(self._limits_text(), id="hire-limits", classes="muted")
            yield Label("What should it do?")
            yield TextArea(id="hire-description")
            with Horizontal(classes="toolbar"):
                yield Label("Budget ", classes="field-label")
                yield Input(str(self.agent.price_per_task), id="hire-budget", type="integer")
                yield Button("Hire", id="hire-confirm", variant="primary")
                yield Button("Cancel", id="hire-cancel")
            yield Static("", id="hire-error")
            yield LoadingIndicator(id="hire-progress")
            with VerticalScroll(id="hire-result-box"):
                yield Markdown("", id="hire-result")

    def on_mount(self) -> None:
        self.query_one("#hire-progress").display = False
        self.query_one("#hire-result-box").display = False
        self.query_one("#hire-description", TextArea).focus()

    def _limits_text(self) -> Text:
        _, balance = self.app.identity  # type: ignore[attr-defined]
        text = Text(f"Price {self.agent.price_per_task:,} credits")
        text.append(f" · your balance {balance:,}" if balance is not None else " · no agent chosen (press i)")
        return text

    @on(Button.Pressed, "#hire-confirm")
    def _confirm(self) -> None:
        description = self.query_one("#hire-description", TextArea).text
        budget_text = self.query_one("#hire-budget", Input).value
        _, balance = self.app.identity  # type: ignore[attr-defined]
        problem = _budget_problem(budget_text, self.agent.price_per_task, balance)
        if problem:
            self._show_error(problem)
            return
        self._show_error("")
        self.query_one("#hire-confirm", Button).disabled = True
        self.query_one("#hire-progress").display = True
        self._run_hire(description, int(budget_text))

    @work(thread=True, exclusive=True, group="hire", exit_on_error=False)
    def _run_hire(self, description: str, budget: int) -> None:
        try:
            outcome = self.app.client.execute(self.agent.id, description, budget)  # type: ignore[attr-defined]
        except MarketError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._succeeded, outcome)

    def _succeeded(self, outcome: ExecutionResult) -> None:
        self.outcome = outcome
        self.query_one("#hire-progress").display = False
        self.query_one("#hire-result-box").display = True
        self.query_one("#hire-result", Markdown).update(outcome.result or "*The agent returned nothing.*")
        self.query_one("#hire-confirm", Button).display = False
        self.query_one("#hire-cancel", Button).label = "Close"
        self.app.refresh_identity()  # type: ignore[attr-defined]

    def _failed(self, exc: MarketError) -> None:
        self.query_one("#hire-progress").display = False
        self.query_one("#hire-confirm", Button).disabled = False
        self._show_error(EXPLANATIONS.get(exc.code, exc.message))
        self.app.refresh_identity()  # type: ignore[attr-defined]

    def _show_error(self, message: str) -> None:
        self.query_one("#hire-error", Static).update(Text(message, style="bold red"))

    @on(Button.Pressed, "#hire-cancel")
    def action_dismiss_result(self) -> None:
        self.dismiss(self.outcome)


def _budget_problem(budget_text: str, price: int, balance: int | None) -> str:
    """Why a budget cannot be used, or '' when it can (the engine checks again)."""
    try:
        budget = int(budget_text)
    except ValueError:
        return "The budget must be a whole number of credits."
    if budget < price:
        return f"The budget must be at least the agent's price ({price:,})."
    if balance is not None and budget > balance:
        return f"The budget is more than your balance ({balance:,})."
    return ""
