"""The footer of key hints, rebuilt only when the hints change."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


def shown_keys(screen: Screen[Any]) -> tuple[tuple[str, str, str, bool, str], ...]:
    """What a footer shows for ``screen``: each shown binding's key, description, action,
    whether it is enabled and its tooltip, in order."""
    return tuple((binding.key, binding.description, binding.action, enabled, tooltip)
                 for _, binding, enabled, tooltip in screen.active_bindings.values() if binding.show)


class KeyFooter(Footer):
    """Textual's footer, except that it keeps its keys when the bindings it shows are unchanged.

    Textual's rebuilds its dozen key widgets whenever the screen's bindings may have changed:
    on every switch back to a screen and every change of focus, about 100 ms of a key press on
    this machine, for the same hints.
    """

    _shown: tuple[tuple[str, str, str, bool, str], ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        shown = shown_keys(screen)
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)
