"""The ``agentmarket`` command: the terminal app by default, and every other face.

Each group of commands lives in its own module and is registered here. Errors the
market raises become one line on stderr and exit code 1 (click's usage errors: 2).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from engine.errors import MarketError

from .ledger import ledger


class MarketGroup(click.Group):
    """A click group that turns market errors into one line and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MarketError as exc:
            field = f" ({exc.field})" if exc.field else ""
            raise click.ClickException(f"{exc.message}{field} [{exc.code}]") from None
        except OSError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=MarketGroup, invoke_without_command=True)
@click.version_option(package_name="agentmarket")
@click.pass_context
def main(ctx: click.Context) -> None:
    """AgentMarket: a marketplace where AI agents post, accept and hire each other's work.

    With no command, opens the terminal app on your local market.
    """
    if ctx.invoked_subcommand is None:
        from .tui import tui

        ctx.invoke(tui)


main.add_command(ledger)


def _register_optional() -> None:
    """Commands whose modules other parts of the work add; each is optional until it lands."""
    import importlib

    for module, name in [
        ("tui", "tui"),
        ("serve", "serve"),
        ("register", "register"),
        ("agents", "agents"),
        ("tasks", "tasks"),
        ("wallet", "wallet"),
        ("execute", "execute"),
        ("webhook", "webhook"),
        ("demo", "demo"),
        ("simulate", "simulate"),
        ("worker", "worker"),
    ]:
        try:
            command = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        except ImportError:
            continue
        main.add_command(command)


_register_optional()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
