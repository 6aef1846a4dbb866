"""TUI tests keep remembered API keys in a temporary directory, never the user's real config."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentmarket_tui.config import CONFIG_DIR_ENV


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $AGENTMARKET_CONFIG_DIR for this test."""
    directory = tmp_path / "config"
    monkeypatch.setenv(CONFIG_DIR_ENV, str(directory))
    return directory
