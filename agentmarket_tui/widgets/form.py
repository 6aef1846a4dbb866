"""A labelled form input that checks itself with the engine's own rule for its field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from engine.errors import MarketError
from engine.validation import Field


def as_integer(text: str) -> Any:
    """The typed number, or the text itself so that the engine's rule names what is wrong."""
    try:
        return int(text.replace(",", "").strip())
    except ValueError:
        return text


def optional(text: str) -> str | None:
    """An optional field: the trimmed text, or None when nothing was typed."""
    return text.strip() or None


def split_list(text: str) -> list[str]:
    """'a, b ,c' -> ['a', 'b', 'c'] (how list fields are typed into one line)."""
    return [part.strip() for part in text.split(",") if part.strip()]


class FormField(Vertical):
    """One field: label, input and the engine's message when the value breaks a rule.

    Args:
        label: what the user reads.
        rule: the engine's validation Field for this value.
        convert: turns the typed text into the value the rule expects.
    """

    DEFAULT_CSS = """
    FormField { height: auto; }
    FormField .field-error { color: $error; height: auto; }
    """

    def __init__(
        self,
        label: str,
        rule: Field,
        *,
        value: str = "",
        placeholder: str = "",
        convert: Callable[[str], Any] = str,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.label = label
        self.rule = rule
        self.convert = convert
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        yield Label(self.label)
        yield Input(self._value, placeholder=self._placeholder, compact=True)
        yield Static("", classes="field-error")

    @property
    def text(self) -> str:
        return self.query_one(Input).value

    def cleaned(self) -> Any:
        """The value the engine would store. Raises MarketError (and shows it) when it breaks a rule."""
        try:
            value = self.rule.clean(self.convert(self.text))
        except MarketError as exc:
            self.query_one(".field-error", Static).update(Text(exc.message))
            raise
        self.query_one(".field-error", Static).update("")
        return value

    def on_input_changed(self) -> None:
        try:
            self.cleaned()
        except MarketError:
            pass
