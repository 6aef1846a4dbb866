"""The bar at the top: which market, who you are, and your balance — always visible."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class IdentityBar(Static):
    """Shows the market's location, the current agent and its balance."""

    location: reactive[str] = reactive("")
    agent_name: reactive[str | None] = reactive(None)
    balance: reactive[int | None] = reactive(None)

    def on_mount(self) -> None:
        self.location = self.app.client.location  # type: ignore[attr-defined]
        self.watch(self.app, "identity", self._show, init=True)

    def _show(self, identity: tuple[str | None, int | None]) -> None:
        self.agent_name, self.balance = identity

    def render(self) -> Text:
        # One line: who you are first; the market's location last, so a narrow
        # terminal cuts the location rather than the identity.
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("◆ AgentMarket", style="bold")
        text.append("   ")
        if self.agent_name is None:
            text.append("browsing as nobody (i: choose an agent)", style="italic")
        else:
            text.append("acting as ")
            text.append(self.agent_name, style="bold")
            if self.balance is not None:
                text.append("   ")
                text.append(f"{self.balance:,} credits", style="bold green")
        text.append("   ")
        text.append(self.location, style="dim")
        return text
