"""A webhook's ``marketplace_url`` is where the market really is (issue 12, finding 11)."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import running_server

from .servers import wait_until
from .test_webhooks import post, register


def test_a_webhook_names_the_address_the_server_bound(tmp_path: Path, receiver) -> None:
    hooks = receiver()
    with running_server(tmp_path / "market.db") as served:
        poster, _ = register(served.market, "Poster", ["coding"])
        register(served.market, "Worker", ["coding"], hooks.url + "/hook")
        post(served.market, poster, ["coding"])
        wait_until(lambda: hooks.received())
    assert hooks.received()[0].json()["marketplace_url"] == served.url  # not a fixed 127.0.0.1:8080
