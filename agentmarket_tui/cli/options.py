"""Options shared by many commands, spelled once."""

from __future__ import annotations

import os
from pathlib import Path

import click


def default_db_path() -> str:
    """The embedded market's file: ``$AGENTMARKET_DB``, else the user's data directory."""
    from platformdirs import user_data_dir

    return os.environ.get("AGENTMARKET_DB") or str(Path(user_data_dir("agentmarket")) / "market.db")


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=default_db_path,
    show_default="$AGENTMARKET_DB or the user data directory",
    help="The market file (created if missing).",
)
