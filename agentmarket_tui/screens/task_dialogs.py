"""The questions a task action needs answered first: the work's result, a rating, a reason to
reject, a dispute's share for the worker."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from engine import validation
from engine.errors import MarketError


class ResultDialog(ModalScreen[str | None]):
    """Write the result of a task; returns the text the engine accepts, or None when dismissed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "submit", "Submit"),
    ]
    TITLE_TEXT = "Result (Markdown) — ctrl+s completes the task, esc cancels"
    FIELD = validation.RESULT.field("result")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.TITLE_TEXT, classes="screen-title")
            yield TextArea(id="result-editor")
            yield Static("", classes="field-error")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_submit(self) -> None:
        try:
            text = self.FIELD.clean(self.query_one(TextArea).text)
        except MarketError as exc:
            self.query_one(".field-error", Static).update(Text(exc.message, style="red"))
            return
        self.dismiss(text)


class ReasonDialog(ResultDialog):
    """Say why a submitted result is rejected; returns the reason, or None when dismissed."""

    TITLE_TEXT = "Why is the result not acceptable? — ctrl+s rejects it (disputed), esc cancels"
    FIELD = validation.REJECTION.field("reason")


class ShareDialog(ModalScreen[int | None]):
    """Pick the worker's share of a disputed budget; returns 0–100, or None when dismissed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]
    SHARES = (100, 75, 50, 25, 0)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="share-dialog"):
            yield Label("Settle the dispute: the worker's share (Enter picks)", classes="screen-title")
            yield OptionList(*[Option(f"{share:>3}% to the worker", id=str(share)) for share in self.SHARES],
                             id="share-options")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 2
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(str(event.option.id)))


class RatingDialog(ModalScreen[int | None]):
    """Pick 1–5 stars for finished work; returns the rating, or None when dismissed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="rating-dialog"):
            yield Label("Rate the work (Enter picks)", classes="screen-title")
            yield OptionList(
                *[Option(Text(f"{'★' * stars}{'☆' * (5 - stars)}  {stars}", style="yellow"), id=str(stars))
                  for stars in range(5, 0, -1)],
                id="rating-options",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(str(event.option.id)))
