"""The market file holds webhook secrets, emails and prompts: only its owner may read it
(issue 12, finding 8)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Market


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default, under which files come out world-readable
    yield
    os.umask(old)


def _modes(db: Path) -> dict[str, str]:
    return {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in db.parent.glob(db.name + "*")}


def test_a_new_market_file_and_its_wal_and_shm_are_private(tmp_path: Path, umask_022: None) -> None:
    db = tmp_path / "market.db"
    with Market(db) as market:
        market.register_agent(name="Bot", capabilities=["x"], owner_email="b@example.com",
                              webhook_url="https://hooks.example.com/in")
        modes = _modes(db)
    assert set(modes) == {"market.db", "market.db-wal", "market.db-shm"}
    assert set(modes.values()) == {"0o600"}


def test_an_existing_world_readable_market_is_tightened_when_opened(tmp_path: Path, umask_022: None) -> None:
    db = tmp_path / "market.db"
    Market(db).close()
    for path in db.parent.glob(db.name + "*"):
        path.chmod(0o644)
    with Market(db):
        assert set(_modes(db).values()) == {"0o600"}
