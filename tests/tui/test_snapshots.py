"""Pictures of every screen at 80x24 and 200x60, over the fixed market of snapshot_app.py.

Regenerate after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

SCREENS = Path(__file__).parents[2] / "agentmarket_tui" / "screens"
if not (SCREENS / "tasks.py").exists():  # the app imports every mode's screen
    pytest.skip("agentmarket_tui/screens/tasks.py is not written yet", allow_module_level=True)

from .snapshot_app import Steps, build_app, hire_dialog, keys, open_row, settle  # noqa: E402

SIZES = pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])


def needs_screen(module: str) -> Any:
    """Skip when a screen module another engineer is building does not exist yet."""
    missing = not (SCREENS / f"{module}.py").exists()
    return pytest.mark.skipif(missing, reason=f"agentmarket_tui/screens/{module}.py is not written yet")


def set_webhook(url: str) -> Steps:
    """Type ``url`` on the webhook screen and press Set."""

    async def run(pilot: Pilot[Any]) -> None:
        await keys("h")(pilot)
        pilot.app.screen.query_one("#webhook-url").value = url
        await pilot.click("#webhook-set")
        await settle(pilot)

    return run


def press_webhook_button(button: str) -> Steps:
    """Open the webhook screen and press ``button`` there."""

    async def run(pilot: Pilot[Any]) -> None:
        await keys("h")(pilot)
        await pilot.click(button)
        await settle(pilot)

    return run


def snap(snap_compare: Any, size: tuple[int, int], steps: Steps) -> bool:
    return bool(snap_compare(build_app(), terminal_size=size, run_before=steps))


@SIZES
@needs_screen("tasks")
class TestTasks:
    def test_task_list(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The task list the app opens on, with tasks in every state."""
        assert snap(snap_compare, size, keys())


@SIZES
@needs_screen("task_detail")
class TestTaskDetail:
    def test_task_detail(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """A completed, rated task with its result and timeline, opened with Enter from the list."""
        assert snap(snap_compare, size, open_row("t", 5))

    def test_failed_direct_hire(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """A direct hire whose agent failed: status failed, escrow refunded, the reason in the timeline."""
        assert snap(snap_compare, size, open_row("t", 8))

    def test_answered_direct_hire(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """A direct hire that succeeded: the agent's answer as the result, paid out 90/10."""
        assert snap(snap_compare, size, open_row("t", 9))

    def test_submitted_for_my_review(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """A result awaiting its poster's review: the review countdown, Approve and Reject offered."""
        assert snap(snap_compare, size, open_row("t", 1))

    def test_dispute_i_settle(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """A disputed task seen by its evaluator: the poster's reason, Resolve offered."""
        assert snap(snap_compare, size, open_row("t", 0))

    def test_resolve_dialog(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The evaluator picks the worker's share."""

        async def run(pilot: Any) -> None:
            await open_row("t", 0)(pilot)
            await pilot.press("ctrl+o")
            await settle(pilot)

        assert snap(snap_compare, size, run)


@SIZES
@needs_screen("tasks")
class TestReviewFilter:
    def test_needs_my_review(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The 'Needs my review' filter: results submitted on my tasks, with their countdowns."""

        async def run(pilot: Any) -> None:
            await keys()(pilot)
            pilot.app.screen.query_one("#task-mine").value = "review"
            await settle(pilot)

        assert snap(snap_compare, size, run)


@SIZES
@needs_screen("post_task")
class TestPostTask:
    def test_post_task_form(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The empty post-a-task form."""

        async def run(pilot: Pilot[Any]) -> None:
            from agentmarket_tui.screens.post_task import PostTaskScreen

            await settle(pilot)
            await pilot.app.push_screen(PostTaskScreen())
            await settle(pilot)
            await pilot.pause(0.3)  # the capability picker fills in after its own load
            await settle(pilot)

        assert snap(snap_compare, size, run)


@SIZES
@needs_screen("identity")
class TestIdentity:
    def test_identity_modal(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The choose-or-register-an-agent modal, opened with i."""
        assert snap(snap_compare, size, keys("i"))


@SIZES
class TestAgents:
    def test_directory(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The agent directory: capabilities, price, reputation, tasks done, hireable."""
        assert snap(snap_compare, size, keys("a"))

    def test_directory_by_reputation_filtered(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The directory filtered to 'summarize' agents, best reputation first."""

        async def run(pilot: Pilot[Any]) -> None:
            await keys("a")(pilot)
            pilot.app.screen.query_one("#agent-order").value = "reputation"
            pilot.app.screen.query_one("#agent-capability").value = "summarize"
            await settle(pilot)

        assert snap(snap_compare, size, run)

    def test_profile(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """Atlas's profile: description as Markdown, facts and the Hire button."""
        assert snap(snap_compare, size, open_row("a", 2))

    def test_hire_modal(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The hire dialog over Atlas's profile, with a job typed in and a budget too low."""

        assert snap(snap_compare, size, hire_dialog("12", confirm=True))


@SIZES
class TestWallet:
    def test_wallet(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """Quill's wallet: the four figures, the balance chart and the transactions."""
        assert snap(snap_compare, size, keys("w"))


@SIZES
class TestWebhook:
    def test_webhook(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """Quill's masked webhook URL and its recent deliveries, good and failed."""
        assert snap(snap_compare, size, keys("h"))

    def test_secret_shown_once(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """A new URL set: the signing secret shown this once, with the copy hint."""
        assert snap(snap_compare, size, set_webhook("https://hooks.example.com/quill-v2"))

    def test_http_url_refused(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The engine's message shown inline when the URL is not https."""

        assert snap(snap_compare, size, set_webhook("http://hooks.example.com/x"))

    def test_event_choices(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The catalog of webhook events with Quill's choices ticked, and the all_tasks opt-in."""
        assert snap(snap_compare, size, press_webhook_button("#webhook-events"))

    def test_secret_rotated(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """A rotated secret: the new one shown once, the old one signing for 24 hours more."""
        assert snap(snap_compare, size, press_webhook_button("#webhook-rotate"))

    def test_redeliver(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """A failed delivery chosen in the log and sent again: it is pending once more."""

        async def run(pilot: Pilot[Any]) -> None:
            await keys("h")(pilot)
            await pilot.press("down", "down")  # the failed task.completed
            await pilot.press("r")
            await settle(pilot)

        assert snap(snap_compare, size, run)


@SIZES
class TestActivity:
    def test_activity_feed(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The live feed of everything that happened, as sentences."""
        assert snap(snap_compare, size, keys("v"))


@SIZES
@needs_screen("disputes")
class TestDisputes:
    def test_open_disputes(self, snap_compare: Any, size: tuple[int, int]) -> None:
        """The operator's view of open disputes (d), oldest first, with the poster's reason."""
        assert snap(snap_compare, size, keys("d"))
