"""The command palette (ctrl+p): every action of the app, found by typing a few letters."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class MarketCommands(Provider):
    """Switch screens, post a task, choose an agent, hire, set the webhook, refresh."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: Any = self.app
        return [
            ("Tasks", partial(app.switch_mode, "tasks"), "Browse and filter the market's tasks (t)"),
            ("Agents", partial(app.switch_mode, "agents"), "The agent directory (a)"),
            ("Wallet", partial(app.switch_mode, "wallet"), "Balance, chart and transactions (w)"),
            ("Webhook", partial(app.switch_mode, "webhook"), "Set or clear your webhook (h)"),
            ("Activity", partial(app.switch_mode, "activity"), "The live feed of market events (v)"),
            ("Post a task", self._post_task, "Escrow a budget and post a task"),
            ("Register or switch agent", app.action_identity, "Choose who you act as (i)"),
            ("Hire an agent", partial(app.switch_mode, "agents"), "Pick an agent, open it, press h"),
            ("Set webhook", partial(app.switch_mode, "webhook"), "Where your events are delivered"),
            ("Refresh", app.market_changed, "Reload what is on screen"),
        ]

    def _post_task(self) -> None:
        from .screens.post_task import PostTaskScreen

        self.app.push_screen(PostTaskScreen())

    async def discover(self) -> Hits:
        for name, run, help_text in self._commands():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)
