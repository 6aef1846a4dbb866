"""Options shared by many commands, spelled once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from engine.config import Config, load_config


def edge_config(**options: Any) -> Config:
    """This process's configuration: the command's ``options`` (None: not given) over the environment.

    The one place the command line reads configuration variables (see ``engine.config``).

    Raises:
        ValidationError: a variable that does not parse (one line, exit 1).
    """
    return load_config(options, os.environ)


def default_db_path() -> str:
    """The embedded market's file: ``$AGENTMARKET_DB``, else the user's data directory."""
    from platformdirs import user_data_dir

    return os.environ.get("AGENTMARKET_DB") or str(Path(user_data_dir("agentmarket")) / "market.db")


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=default_db_path,
    show_default="$AGENTMARKET_DB or the user data directory",
    metavar="DB",
    help="The market file (created if missing), or a postgresql://user@host/dbname URL (the postgres extra).",
)
