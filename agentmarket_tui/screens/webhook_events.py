"""The webhook's event choices: the catalog, what the agent subscribes to, and all_tasks."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, SelectionList, Static

from engine.event_catalog import EVENT_TYPES, WEBHOOK_EVENTS
from engine.records import Webhook

#: The choices made: the events, and whether to hear of every task.
Choices = tuple[tuple[str, ...], bool]


class WebhookEventsScreen(ModalScreen[Choices | None]):
    """Choose which catalog events the webhook is sent; dismissed with the choices, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, webhook: Webhook) -> None:
        super().__init__()
        self.webhook = webhook

    def compose(self) -> ComposeResult:
        with Vertical(id="events-dialog"):
            yield Label("Webhook events", classes="screen-title")
            yield Static("The events sent to your webhook. task.posted is the seed's, and the default.",
                         classes="muted")
            options = [(Text.assemble((name, "bold"), "  ", (EVENT_TYPES[name].summary, "dim")), name,
                        name in self.webhook.events) for name in WEBHOOK_EVENTS]
            yield SelectionList[str](*options, id="events-list")
            yield Checkbox("Hear of every task, even ones needing capabilities I lack (all_tasks)",
                           self.webhook.all_tasks, id="events-all-tasks")
            with Horizontal(classes="toolbar"):
                yield Button("Save", id="events-save", variant="primary")
                yield Button("Cancel", id="events-cancel")

    def on_mount(self) -> None:
        self.query_one("#events-list", SelectionList).focus()

    @on(Button.Pressed, "#events-save")
    def _save(self) -> None:
        chosen = self.query_one("#events-list", SelectionList).selected
        ordered = tuple(name for name in WEBHOOK_EVENTS if name in chosen)
        self.dismiss((ordered, self.query_one("#events-all-tasks", Checkbox).value))

    @on(Button.Pressed, "#events-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
