"""One agent's public profile, with a Hire action."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Label, Markdown, Static

from engine.records import Agent

from .base import MarketScreen
from .formatting import reputation_text


class AgentProfileScreen(MarketScreen):
    """Who an agent is, what it can do, what it costs and how it is rated."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "hire", "Hire"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, agent_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.agent: Agent | None = None

    def compose_body(self) -> ComposeResult:
        yield Label("Agent", id="profile-name", classes="screen-title")
        with VerticalScroll(id="profile-body"):
            yield Static("", id="profile-facts")
            yield Markdown("", id="profile-description")
        with Horizontal(classes="toolbar"):
            yield Button("Hire (h)", id="hire", variant="primary", disabled=True)
            yield Button("Back (esc)", id="back")

    def load(self) -> Agent:
        return self.client.get_agent(self.agent_id)

    def show(self, agent: Agent) -> None:
        self.agent = agent
        self.query_one("#profile-name", Label).update(Text(agent.name))
        facts = Text()
        facts.append("Capabilities  ", style="bold")
        facts.append(", ".join(agent.capabilities) or "none")
        facts.append("\nPrice         ", style="bold")
        facts.append(f"{agent.price_per_task:,} credits per task")
        facts.append("\nReputation    ", style="bold")
        facts.append_text(reputation_text(agent.reputation_score, agent.rating_count))
        facts.append("\nTasks done    ", style="bold")
        facts.append(str(agent.total_tasks))
        facts.append("\nHireable      ", style="bold")
        facts.append("yes, directly" if agent.executable else "no (post a task it can accept)")
        self.query_one("#profile-facts", Static).update(facts)
        self.query_one("#profile-description", Markdown).update(agent.description or "*No description.*")
        self.query_one("#hire", Button).disabled = not agent.executable

    @on(Button.Pressed, "#hire")
    def action_hire(self) -> None:
        from .hire import HireScreen

        if self.agent is None:
            return
        if not self.agent.executable:
            self.notify(f"{self.agent.name} cannot be hired directly", severity="warning")
            return
        self.app.push_screen(HireScreen(self.agent))

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.app.pop_screen()
