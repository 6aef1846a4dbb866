"""Errors the client raises beyond the market's own (``engine.errors.MarketError``)."""

from __future__ import annotations

from engine.errors import MarketError


class ConnectionFailed(MarketError, api=False):
    """The market server could not be reached, or answered with something other than the API."""

    code = "connection_failed"
    status = 503


class NoIdentity(MarketError, api=False):
    """The action needs an agent identity (an API key) and none is selected."""

    code = "no_identity"
    status = 401
