"""The activity feed follows the market: new events appear once, as sentences."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("agentmarket_tui.app", reason="the app's screens are not all written yet")

from agentmarket_tui.client import hosted_market  # noqa: E402
from textual.widgets import RichLog  # noqa: E402

from .snapshot_app import build_app, keys, settle  # noqa: E402


def test_new_events_are_appended_once_when_the_market_changes() -> None:
    async def run() -> list[str]:
        app = build_app()
        market = hosted_market(app.client)
        assert market is not None
        async with app.run_test(size=(120, 40)) as pilot:
            await keys("v")(pilot)
            quill = app.client.me()
            market.post_task(quill.id, title="Proofread [b]the[/b] FAQ", description="Typos only.",
                             budget=12, required_capabilities=["writing"])
            app.market_changed()
            await settle(pilot)
            app.market_changed()  # nothing new: nothing appended
            await settle(pilot)
            return [line.text for line in app.screen.query_one(RichLog).lines]

    lines = asyncio.run(run())

    assert lines[-1].endswith("Quill posted 'Proofread [b]the[/b] FAQ' for 12")
    assert sum("Proofread" in line for line in lines) == 1
