"""What every top-level screen shares: the client, background loading and live reloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen

from engine.errors import MarketError

from ..client import MarketClient
from ..messages import MarketChanged
from ..widgets.footer import KeyFooter
from ..widgets.identity_bar import IdentityBar

T = TypeVar("T")


class MarketScreen(Screen):
    """A screen that shows market data.

    Subclasses implement :meth:`compose_body`, :meth:`load` (runs in a worker thread, may block on the
    client) and :meth:`show` (runs on the UI thread with what ``load`` returned).
    The app calls :meth:`reload` when the market changes, so screens stay live.
    """

    @property
    def client(self) -> MarketClient:
        return self.app.client  # type: ignore[attr-defined,no-any-return]

    def compose(self) -> ComposeResult:
        yield IdentityBar(classes="identity-bar")
        yield from self.compose_body()
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between the identity bar and the footer."""
        yield from ()

    def on_mount(self) -> None:
        self.reload()

    def on_market_changed(self, _: MarketChanged) -> None:
        self.reload()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Keep the styles the screen had, as Textual does when a pushed screen is popped: a mode
        # switch restyles every widget otherwise (~15-20 ms of opening a screen), though nothing
        # they depend on changed, except the theme, which the switch itself refreshes.
        event.refresh_styles = False
        self.reload()

    def reload(self) -> None:
        """Load this screen's data in the background and show it when it arrives."""
        self.call_market(self.load, on_done=self._show_loaded, group="load")

    def _show_loaded(self, data: Any) -> None:
        self.show(data)
        if self.is_current:
            self.app.screen_shown()  # type: ignore[attr-defined]

    def load(self) -> Any:
        """Fetch the screen's data (worker thread). The default loads nothing."""
        return None

    def show(self, data: Any) -> None:
        """Render what :meth:`load` returned (UI thread)."""

    def call_market(
        self,
        fn: Callable[..., T],
        *args: Any,
        on_done: Callable[[T], None] | None = None,
        group: str = "action",
        success: str | None = None,
    ) -> None:
        """Run ``fn(*args)`` in a worker thread; never blocks the UI.

        Args:
            fn: a client call (or anything that may block).
            on_done: called on the UI thread with the result.
            group: workers in one group replace each other (the newest wins).
            success: a notification to show when it succeeds.

        A MarketError becomes an error notification, never a traceback.
        """

        def job() -> None:
            try:
                result = fn(*args)
            except MarketError as exc:
                self.app.call_from_thread(self.app.notify, exc.message, title=exc.code, severity="error")
                return
            except Exception as exc:  # a bug: say so rather than fail silently or show a traceback
                self.app.call_from_thread(
                    self.app.notify, f"{type(exc).__name__}: {exc}", title="unexpected error", severity="error"
                )
                self.log.error(exc)
                return
            if on_done is not None:
                self.app.call_from_thread(on_done, result)
            if success:
                self.app.call_from_thread(self.app.notify, success)

        self.run_worker(job, thread=True, exclusive=group == "load", group=group, exit_on_error=False)
