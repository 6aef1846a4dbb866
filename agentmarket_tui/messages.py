"""Messages the app's parts send each other."""

from __future__ import annotations

from textual.message import Message


class MarketChanged(Message):
    """The market changed (here or in another process): visible data should be reloaded."""


class IdentityChanged(Message):
    """The app now acts as another agent (or as nobody)."""
