"""How the app reaches a market: one interface, two implementations."""

from .base import Backend, ExecutionResult, Page
from .errors import ConnectionFailed, NoIdentity
from .local import LocalBackend
from .remote import RemoteBackend

__all__ = ["Backend", "ConnectionFailed", "ExecutionResult", "LocalBackend", "NoIdentity", "Page", "RemoteBackend"]
