"""The AgentMarket terminal app: browse, post, work and hire, live."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from engine.errors import MarketError

from .client import MarketClient

#: ``operator(task_id, worker_share, note)``: settle a dispute as the market's operator.
Operator = Callable[[str, int, str], Any]
from .commands import MarketCommands
from .live import LiveFeed
from .messages import IdentityChanged, MarketChanged
from .screens import MODES

POLL_SECONDS = 0.5


class AgentMarketApp(App[None]):
    """The app. It reaches the market only through ``client``.

    Args:
        client: the market (in-process or remote) and the identity to act as. Whoever
            opened a local market runs its background work (``engine.runtime.open_market``).
        live: follow the market's changes (tests of fixed pictures turn it off): through
            the live event stream (``live.LiveFeed``), else by polling ``GET /api/events``.
    """

    TITLE = "AgentMarket"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {MarketCommands}
    MODES: ClassVar[dict[str, Any]] = MODES
    DEFAULT_MODE = "tasks"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "switch_mode('tasks')", "Tasks"),
        Binding("a", "switch_mode('agents')", "Agents"),
        Binding("w", "switch_mode('wallet')", "Wallet"),
        Binding("h", "switch_mode('webhook')", "Webhook"),
        Binding("v", "switch_mode('activity')", "Activity"),
        Binding("d", "switch_mode('disputes')", "Disputes"),
        Binding("s", "switch_mode('simulation')", "Simulation", show=False),
        Binding("i", "identity", "Identity"),
        Binding("q", "quit", "Quit"),
    ]

    #: (agent name, balance) of the current identity; every IdentityBar watches it.
    identity: reactive[tuple[str | None, int | None]] = reactive((None, None))

    def __init__(self, client: MarketClient, *, live: bool = True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), operator: Operator | None = None) -> None:
        super().__init__()
        #: settles a dispute as the market's operator: ``operator(task_id, worker_share, note)``;
        #: only on a local market file (the operator is whoever holds the file)
        self.operator = operator
        self.client = client
        client.printable = True  # old text in a market must not drive this terminal
        self.live = live
        self.clock = clock  # what countdowns count from (snapshots fix it)
        self._token: Any = None
        self._feed: LiveFeed | None = None
        self._holds: list[ExitStack] = []  # repaints held by delay_update

    def on_mount(self) -> None:
        # What is loaded so far (the modules of Python, Textual and the engine: ~120,000 tracked
        # objects) lives as long as the app: keep it out of the collector's full passes, which
        # otherwise stalled a key press by ~90 ms of CPU every 25 pages or so.
        gc.freeze()
        self.refresh_identity()
        if self.live:
            self.set_interval(POLL_SECONDS, self._poll)

    def on_unmount(self) -> None:
        if self._feed is not None:
            self._feed.stop()

    def delay_update(self, delay: float = 0.05) -> None:
        """Hold repaints until the current screen shows what it loaded (:meth:`screen_shown`),
        ``delay`` seconds at the most.

        Textual calls this as it switches modes, not to draw the screen half switched. It held
        repaints for the whole 50 ms, half of opening the task list (``t``) while its page
        loads in ~3 ms, and the list was then drawn twice: with its old rows, then the new.
        """
        hold = ExitStack()
        hold.enter_context(self.batch_update())
        self._holds.append(hold)
        self.set_timer(delay, partial(self._release, hold), name="delay_update")

    def screen_shown(self) -> None:
        """The current screen shows what it loaded: draw it now (ends :meth:`delay_update`'s holds)."""
        for hold in list(self._holds):
            self._release(hold)

    def _release(self, hold: ExitStack) -> None:
        if hold in self._holds:
            self._holds.remove(hold)
            hold.close()
            self.screen.refresh()

    async def action_quit(self) -> None:
        self.exit()

    def action_identity(self) -> None:
        from .screens.identity import IdentityScreen

        self.push_screen(IdentityScreen())

    # -- live updates -----------------------------------------------------------------
    def _poll(self) -> None:
        feed = self._feed
        if feed is not None and feed.available and feed.connected:
            self._changed_to(feed.seq)  # the stream keeps it current: nothing to ask
            return
        self.run_worker(self._check_for_changes, thread=True, exclusive=True, group="poll", exit_on_error=False)

    def _check_for_changes(self) -> None:
        try:
            token = self.client.change_token()
        except MarketError:
            return  # a remote market that is briefly unreachable; try again next tick
        if self._feed is None:
            self._feed = LiveFeed(self.client, token).start()
        self.call_from_thread(self._changed_to, token)

    def _changed_to(self, token: Any) -> None:
        if token != self._token:
            first = self._token is None
            self._token = token
            if not first:
                self.market_changed()

    def market_changed(self) -> None:
        """Reload the visible screen and the identity bar."""
        self.refresh_identity()
        self.screen.post_message(MarketChanged())

    def on_identity_changed(self, _: IdentityChanged) -> None:
        self.refresh_identity()
        self.screen.post_message(MarketChanged())

    def refresh_identity(self) -> None:
        """Fetch the current agent's name and balance in the background."""

        def job() -> None:
            name = balance = None
            if self.client.api_key:
                try:
                    name = self.client.me().name
                    balance = self.client.wallet().balance
                except MarketError:
                    pass
            self.call_from_thread(setattr, self, "identity", (name, balance))

        self.run_worker(job, thread=True, exclusive=True, group="identity", exit_on_error=False)


def launch(client: MarketClient, *, title: str | None = None, operator: Operator | None = None) -> None:
    """Run the app until the user quits.

    Args:
        client: the market to show and the identity to act as.
        title: a window/terminal title.
        operator: settles disputes as the market's operator (local markets only).
    """
    app = AgentMarketApp(client, operator=operator)
    if title:
        app.title = title
    app.run()
