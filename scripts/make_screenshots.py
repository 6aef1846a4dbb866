"""Write SVG screenshots of the app's main screens into screenshots/, from the snapshot market.

Run from the repository root: ``python scripts/make_screenshots.py [tasks.svg ...]``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.tui.snapshot_app import Steps, build_app, hire_dialog, keys, open_row  # noqa: E402

SIZE = (120, 34)
#: file name -> how to get there from the app's first screen
SHOTS: dict[str, Steps] = {
    "tasks.svg": keys(),
    "task-detail.svg": open_row("t", 3),
    "agents.svg": keys("a"),
    "hire.svg": hire_dialog("40"),
    "wallet.svg": keys("w"),
    "activity.svg": keys("v"),
    "simulation.svg": keys("s"),
}


async def take(name: str, steps: Steps, folder: Path) -> None:
    """Run a fresh app, follow ``steps`` and save what is on screen as ``folder/name``."""
    app = build_app()
    async with app.run_test(size=SIZE) as pilot:
        await steps(pilot)
        app.save_screenshot(name, path=str(folder))


def main(names: list[str]) -> None:
    """Take the screenshots named on the command line (default: all of them)."""
    folder = ROOT / "screenshots"
    folder.mkdir(exist_ok=True)
    for name in names or list(SHOTS):
        asyncio.run(take(name, SHOTS[name], folder))
        print(folder / name)


if __name__ == "__main__":
    main(sys.argv[1:])
