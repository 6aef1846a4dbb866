"""Webhook settings: where events go, which events, the signing secret (once) and its rotation,
a test ping, and recent deliveries, any of which can be sent again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.binding import Binding, BindingType
from textual.widgets import Button, DataTable, Input, Label, Static

from engine.errors import MarketError
from engine.records import Delivery, Webhook

from .base import MarketScreen
from .formatting import short_time
from .webhook_events import Choices, WebhookEventsScreen

DELIVERY_STYLES = {"delivered": "green", "failed": "red", "pending": "yellow"}


@dataclass(frozen=True, slots=True)
class WebhookView:
    """The webhook and its deliveries; ``webhook`` is None when no agent is chosen."""

    webhook: Webhook | None
    deliveries: tuple[Delivery, ...] = ()


class WebhookScreen(MarketScreen):
    """See, set or clear the current agent's webhook URL; choose its events, rotate its secret,
    ping it, and send a delivery again."""

    AUTO_FOCUS = "#webhook-deliveries"  # not the URL field, so the app's keys still switch screens
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "redeliver", "Redeliver")]

    def __init__(self) -> None:
        super().__init__()
        self._view = WebhookView(None)

    def compose_body(self) -> ComposeResult:
        yield Label("Webhook", classes="screen-title")
        yield Static(Text("No agent chosen — press i to choose or register an agent."), id="webhook-nobody")
        with Vertical(id="webhook-content"):
            yield Static("", id="webhook-current")
            with Horizontal(classes="toolbar"):
                yield Input(placeholder="https://example.com/hooks/agentmarket", id="webhook-url")
                yield Button("Set", id="webhook-set", variant="primary")
                yield Button("Clear", id="webhook-clear", variant="warning")
            with Horizontal(classes="toolbar"):
                yield Button("Events…", id="webhook-events")
                yield Button("Rotate secret", id="webhook-rotate")
                yield Button("Send ping", id="webhook-ping")
                yield Button("Redeliver", id="webhook-redeliver")
            yield Static("", id="webhook-message")
            yield Label("Recent deliveries", classes="muted")
            table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="webhook-deliveries")
            table.add_columns("Event", "Status", "Attempts", "Last response", "When")
            yield table

    def load(self) -> WebhookView:
        if not self.client.api_key:
            return WebhookView(None)
        try:
            return WebhookView(self.client.webhook(), tuple(self.client.webhook_deliveries(limit=50).items))
        except MarketError:
            return WebhookView(None)

    def show(self, view: WebhookView) -> None:
        self._view = view
        self.query_one("#webhook-nobody").display = view.webhook is None
        self.query_one("#webhook-content").display = view.webhook is not None
        if view.webhook is None:
            return
        self.query_one("#webhook-current", Static).update(_summary(view.webhook))
        table = self.query_one("#webhook-deliveries", DataTable)
        table.clear()
        for delivery in view.deliveries:
            table.add_row(
                Text(delivery.event),
                Text(delivery.status, style=DELIVERY_STYLES.get(delivery.status, "")),
                Text(str(delivery.attempts), justify="right"),
                _last_response(delivery),
                short_time(delivery.updated_at),
            )

    @on(Button.Pressed, "#webhook-set")
    @on(Input.Submitted, "#webhook-url")
    def _set(self) -> None:
        url = self.query_one("#webhook-url", Input).value.strip()
        if not url:
            self._message(Text("Type an https:// URL first, or press Clear.", style="red"))
            return
        self._change(url)

    @on(Button.Pressed, "#webhook-clear")
    def _clear(self) -> None:
        self._change(None)

    def _change(self, url: str | None) -> None:
        def job() -> None:
            try:
                webhook = self.client.set_webhook(url)
            except MarketError as exc:
                self.app.call_from_thread(self._message, Text(exc.message, style="bold red"))
                return
            self.app.call_from_thread(self._changed, webhook)

        self.run_worker(job, thread=True, group="webhook", exit_on_error=False)

    def _changed(self, webhook: Webhook) -> None:
        self.query_one("#webhook-url", Input).value = ""
        if webhook.url is None:
            self._message(Text("Webhook cleared: events are no longer sent.", style="green"))
        else:
            message = Text("Webhook set. Its signing secret is shown only this once; "
                           "it is also on your clipboard if your terminal allows:\n")
            message.append(webhook.secret or "", style="bold reverse")
            self.app.copy_to_clipboard(webhook.secret or "")
            self._message(message)
        self.reload()

    def _message(self, text: Text) -> None:
        self.query_one("#webhook-message", Static).update(text)

    # -- events, rotation, ping, redelivery ------------------------------------------------
    @on(Button.Pressed, "#webhook-events")
    def _choose_events(self) -> None:
        if self._view.webhook is not None:
            self.app.push_screen(WebhookEventsScreen(self._view.webhook), self._events_chosen)

    def _events_chosen(self, choices: Choices | None) -> None:
        if choices is None:
            return
        events, all_tasks = choices
        self.call_market(lambda: self.client.change_webhook(events=events, all_tasks=all_tasks),
                         on_done=lambda _: self._done(Text("Event choices saved.", style="green")))

    @on(Button.Pressed, "#webhook-rotate")
    def _rotate(self) -> None:
        self.call_market(self.client.rotate_webhook_secret, on_done=self._rotated)

    def _rotated(self, webhook: Webhook) -> None:
        message = Text("New signing secret, shown only this once (also on your clipboard if your terminal allows):\n")
        message.append(webhook.secret or "", style="bold reverse")
        message.append(f"\nThe old secret keeps signing beside it until {short_time(webhook.previous_secret_until or '')}.")
        self.app.copy_to_clipboard(webhook.secret or "")
        self._done(message)

    @on(Button.Pressed, "#webhook-ping")
    def _ping(self) -> None:
        self.call_market(self.client.test_webhook,
                         on_done=lambda _: self._done(Text("Ping queued: it is sent now; see it below.",
                                                           style="green")))

    @on(Button.Pressed, "#webhook-redeliver")
    def action_redeliver(self) -> None:
        table = self.query_one("#webhook-deliveries", DataTable)
        if not self._view.deliveries or table.cursor_row < 0:
            self._message(Text("Choose a delivery in the list first.", style="red"))
            return
        delivery = self._view.deliveries[min(table.cursor_row, len(self._view.deliveries) - 1)]
        self.call_market(self.client.redeliver, delivery.id,
                         on_done=lambda d: self._done(Text(f"{d.event} queued to be sent again.", style="green")))

    def _done(self, message: Text) -> None:
        self._message(message)
        self.reload()


def _summary(webhook: Webhook) -> Text:
    """The URL, the chosen events and, during a rotation, until when the old secret signs."""
    text = Text("Current URL  ", style="bold")
    text.append(webhook.url or "none — events are not sent anywhere", style="" if webhook.url else "dim")
    text.append("\nEvents       ", style="bold")
    text.append(", ".join(webhook.events) or "none")
    if webhook.all_tasks:
        text.append("  (every task)", style="dim")
    if webhook.previous_secret_until:
        text.append(f"\nOld secret signs until {short_time(webhook.previous_secret_until)}", style="yellow")
    return text


def _last_response(delivery: Delivery) -> Text:
    if delivery.last_error:
        return Text(delivery.last_error, style="red")
    if delivery.last_status_code is None:
        return Text("–", style="dim")
    return Text(str(delivery.last_status_code), style="green" if delivery.last_status_code < 300 else "red")
