"""Small renderers the screens share: credits, reputation, times, events as sentences."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text

from engine.records import Event


def reputation_text(score: float | None, ratings: int) -> Text:
    """A reputation as stars and a figure (and how many ratings, when known), or 'new' when unrated.

    The API shows the number of ratings only to the agent itself: 0 for a rated agent means unknown.
    """
    if score is None:
        return Text("new", style="dim")
    return Text.assemble(("★", "yellow"), f" {score:.1f}", (f" ({ratings})" if ratings else "", "dim"))


def signed_credits(amount: int) -> Text:
    """An amount with its sign, green for money in and red for money out."""
    return Text(f"{amount:+,}", style="green" if amount >= 0 else "red", justify="right")


def short_time(timestamp: str) -> str:
    """'2026-03-13T12:00:00.000000Z' -> '2026-03-13 12:00'."""
    return timestamp[:16].replace("T", " ")


def countdown(until: str | None, now: datetime) -> Text:
    """Time left until a market time: '3d 4h', '2h 5m', '4m', or 'lapsed' (red); '' for None."""
    if until is None:
        return Text("")
    left = int((datetime.fromisoformat(until.replace("Z", "+00:00")) - now).total_seconds())
    if left <= 0:
        return Text("lapsed", style="red")
    days, rest = divmod(left, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [f"{days}d", f"{hours}h"] if days else [f"{hours}h", f"{minutes}m"] if hours else [f"{max(minutes, 1)}m"]
    return Text(" ".join(parts), style="yellow" if left < 3_600 else "")


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis when it was longer."""
    return text if len(text) <= width else text[: width - 1] + "…"


def event_sentence(event: Event, name: Callable[[str | None], str], task: str) -> Text:
    """``event`` as '<time>  <who> <did what>', naming agents with ``name`` and the task as ``task``."""
    data = event.data
    text = Text(short_time(event.created_at) + "  ", style="dim")
    if event.type == "task.expired":
        return text.append(task.capitalize() if task == "it" else task, style="italic").append(
            " expired; its budget went back to the poster")
    if event.type == "task.resolved" and event.agent_id is None:
        text.append("The operator", style="bold")
    else:
        text.append(name(event.agent_id), style="bold")
    match event.type:
        case "agent.registered":
            text.append(" joined the market")
        case "task.posted":
            text.append(" posted ").append(task, style="italic").append(f" for {data.get('budget', '?')}")
        case "task.assigned":
            text.append(" accepted ").append(task, style="italic")
        case "task.completed":
            text.append(" completed ").append(task, style="italic")
        case "task.cancelled":
            text.append(" cancelled ").append(task, style="italic")
        case "task.released":
            text.append(" gave back ").append(task, style="italic")
        case "task.claim_expired":
            text.append(" ran out of time on ").append(task, style="italic")
        case "task.submitted":
            text.append(" submitted ").append(task, style="italic").append(" for review")
        case "task.approved" if data.get("auto"):
            text.append(" was paid for ").append(task, style="italic").append(" (approved on its own)")
        case "task.approved":
            text.append(" approved ").append(task, style="italic")
        case "task.disputed":
            text.append(" rejected ").append(task, style="italic").append(f": {data.get('reason', '')}")
        case "task.resolved":
            text.append(" settled ").append(task, style="italic").append(f": {data.get('worker_share', '?')}% "
                                                                        "to the worker")
        case "task.rated":
            text.append(" rated ").append(task, style="italic").append(f" {data.get('rating', '?')}/5")
        case "task.hired":
            target = name(str(data["agent_id"]) if data.get("agent_id") else None)
            text.append(" hired ").append(target, style="bold").append(f" for {data.get('budget', '?')}")
        case "task.failed":
            text.append(" failed ").append(task, style="italic")
            if data.get("reason"):
                text.append(f": {data['reason']}")
            text.append(" (refunded)", style="dim")
        case "credits.granted":
            text.append(f" received {data.get('credits', '?')} credits")
        case _:
            text.append(f" {event.type}")
    return text
