"""The ``agentmarket`` command: the terminal app by default, and every other face.

Each group of commands lives in its own module and is registered here, explicitly: a
module that fails to import fails the whole command loudly rather than hiding its
command. Errors the market raises become one line on stderr and exit code 1 (click's
usage errors: 2).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from engine.errors import MarketError

from .agents import agents
from .demo import demo
from .disputes import disputes
from .execute import execute
from .grant import grant
from .invites import invites
from .ledger import ledger
from .mcp import mcp
from .migrate import migrate
from .register import register
from .serve import serve
from .simulate import simulate
from .tasks import tasks
from .tui import tui
from .wallet import wallet
from .webhook import webhook
from .worker import worker


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
        ctx.invoke(tui)


for command in (tui, serve, demo, simulate, worker, register, agents, tasks, wallet, execute, webhook, ledger,
                invites, grant, mcp, disputes, migrate):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
