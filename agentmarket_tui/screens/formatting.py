"""Small renderers the screens share: credits, reputation, times."""

from __future__ import annotations

from rich.text import Text


def reputation_text(score: float | None, ratings: int) -> Text:
    """A reputation as stars and a figure, or 'new' when nobody rated the agent yet."""
    if score is None:
        return Text("new", style="dim")
    return Text.assemble(("★", "yellow"), f" {score:.1f} ", (f"({ratings})", "dim"))


def signed_credits(amount: int) -> Text:
    """An amount with its sign, green for money in and red for money out."""
    return Text(f"{amount:+,}", style="green" if amount >= 0 else "red", justify="right")


def short_time(timestamp: str) -> str:
    """'2026-03-13T12:00:00.000000Z' -> '2026-03-13 12:00'."""
    return timestamp[:16].replace("T", " ")


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis when it was longer."""
    return text if len(text) <= width else text[: width - 1] + "…"
