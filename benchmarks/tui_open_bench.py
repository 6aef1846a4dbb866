"""How fast the terminal app opens the task list and a task detail on a large local market.

Builds (once, cached under ``--cache``) a market file with ``--tasks`` tasks made by the
seeded simulator, registers a viewer agent, then measures two things:

* the client calls each screen makes in its ``load`` (tasks: one page of 50; task detail:
  the task, the viewer, the poster's and assignee's names, the timeline), ``--repeat`` times;
* the app itself, driven by Textual's ``run_test`` pilot: from start until the task table
  shows its rows, and from Enter until the detail screen shows the task.

    python benchmarks/tui_open_bench.py [--tasks 20000] [--repeat 200] [--app-runs 5]

Measured on the shared 2-core VM, 20,000 tasks (~100 agents), two alternating runs of the
code before the client (LocalBackend calling Market directly) and after (MarketClient over
the in-process transport: the server's dispatcher, JSON both ways), medians:

    step                              before        after
    task list page (client calls)     0.63-1.00 ms  1.70-1.72 ms
    task detail load (client calls)   0.17-0.34 ms  2.28-3.00 ms
    app start -> task list shown      491-717 ms    359-586 ms
    app Enter -> task detail shown    474-691 ms    454-801 ms

Key presses (``key_times``, issue 13 item 7): each key is handed to the app as the terminal
driver hands it, and the time runs until the first frame that shows its result has been drawn
and encoded for the terminal (a headless app skips that encoding; ``Frames`` does it), with the
wall clock and the process's CPU time (all threads). Not through ``pilot.press``: that sleeps
at least 40 ms per key waiting for the app to look idle. ``--market`` takes a scale_bench
market (opening migrates it: point it at a copy).

    python benchmarks/tui_open_bench.py --market COPY-OF/market-settled-1000000.db [--pages 100]

Measured on the shared 2-core VM at load 10-13 (five helpers and their tests), 140x40, one
run each, alternating the app before this change (Textual's DataTable, its Footer) and after
(``widgets/row_table.py``, ``widgets/footer.py``, ``gc.freeze``); key press to drawn, ms:

    key (wall p50 / CPU p50)   1 M before           1 M after           10 k before  10 k after
    t: open the list           893-1405 / 273-327   214-270 / 54-60     1432 / 308   158 / 56
    ] next page (100 presses)  355-373 / 92-94      55-67 / 16-21       291 / 82     60 / 20
    100 pages, total wall      39.6-43.1 s          6.1-7.0 s           34.4 s       6.3 s
    capability + Enter (5)     237-305 / 68-99      50-88 / 18-20       405 / 95     84 / 23
    search + Enter (5)         364-472 / 106-119    82-86 / 23-26       381 / 94     76 / 25
    start, no key              1547-1711 / 417-478  886-1261 / 226-304  2168 / 580   1027 / 261

After, wall p90: ``t`` 204-301, a page 92-106, a capability 79-113, a search 124-161 (the
slowest presses include a collection by the garbage collector, ~15-50 ms CPU).

The list request itself is 1-3 ms through the client at both sizes, so the market's size does not
show: what is left is Textual's. Of a page's ~20 ms CPU, redrawing the changed lines (the
compositor) is ~8 ms, building the rows ~3, the request 1-3, the rest Textual's messages. At this
load the wall clock is two to four times the CPU time; on an idle machine a press costs its CPU
time plus up to a frame (1/60 s).

Opening the list (``t``) is a screen switch. Textual restyled the screen's ~40 widgets (~16-20 ms),
held every repaint for a fixed 50 ms (``App.delay_update``), then drew the screen whole, and again
when the reload came. Now the screen keeps its styles (``MarketScreen.on_screen_resume``), the hold
ends as soon as the screen shows its new page (``AgentMarketApp.screen_shown``), and the table
draws again only rows that changed and its scrollbar only when its size does: one full draw,
~8-10 ms of the ~17-21 ms CPU left (switch 2-3, the request 2-3, the rows 2). Alternating the
code before and after, 3 runs each, 30 opens, 1 M settled market, 140x40, ms:

    key (wall p50 / p90 / p99; CPU p50)  before, load 5.4-7.0              after, load 5.0-6.9
    t: open the list                     88-150 / 161-387 / 240-759; 55-61  30-46 / 51-132 / 66-244; 16-20
    ] next page (100 presses)            33-57 / 58-102 / 88-262; 18-24     28-38 / 46-78 / 77-326; 13-17
    capability + Enter (5)               36-55; 17-26                       21-52; 14-23
    search + Enter (5)                   59-78; 19-28                       32-87; 17-27

At load 2.4-2.9 (two runs each, 10 opens): ``t`` 79 / 59-67 CPU before, 23-33 / 16-18 after; a
page 23-30 / 17-21 before, 21-27 / 16-19 after. On a fresh simulated market of 1,000 tasks
(``--tasks 1000``, load 3.9-5.3): ``t`` 133-152 (p99 261-266) / 70 CPU before, 44-53 (p99 89-142)
/ 21-22 after; pages, capability and search the same within the noise. The slowest ``t`` presses
are the machine's: their CPU time is 30-80 ms (a collection, another thread), their wall clock
two to four times that.

The requests cost 1-3 ms more per screen (routing, auth and the balance of each keyed
request, JSON encoding and parsing, httpx's request building); the app's own times are
hundreds of ms of Textual layout and rendering, and vary more between runs than that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine import Market
from engine.simulation import run_simulation

PAGE = 50


def build(path: Path, tasks: int) -> str:
    """A market file with ``tasks`` simulated tasks and a viewer; returns the viewer's key."""
    key_file = path.with_suffix(".key")
    if not path.exists():
        run_simulation(max(10, tasks // 200), tasks, 1, path=str(path))
        with Market(path) as market:
            key_file.write_text(market.register_agent(name="viewer", capabilities=["x"],
                                                      owner_email="v@example.com").api_key)
    return key_file.read_text()


def open_client(db: Path, key: str) -> Any:
    """The terminal app's client on the file, acting as the viewer."""
    from agentmarket_tui.client import local_client

    return local_client(str(db), key)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and 90th percentile, in milliseconds, of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def detail_load(client: Any, task_id: str) -> None:
    """What TaskDetailScreen.load asks for."""
    task = client.get_task(task_id)
    client.me()
    for agent_id in filter(None, {task.poster_id, task.assigned_to}):
        client.get_agent(agent_id)
    client.task_timeline(task_id)


async def app_times(db: Path, key: str) -> tuple[float, float]:
    """Milliseconds until the task list shows, then until a task detail shows (one run)."""
    from textual.widgets import Label

    from agentmarket_tui.app import AgentMarketApp

    client = open_client(db, key)
    app = AgentMarketApp(client, live=False)
    start = time.perf_counter()
    async with app.run_test(size=(140, 40)) as pilot:
        while not app.screen.query_one("#tasks-table").row_count:  # type: ignore[attr-defined]
            await pilot.pause(0.001)
        listed = time.perf_counter()
        await pilot.press("enter")
        while not (str(app.screen.id or "").startswith("task") or app.screen.query("#task-title")):
            await pilot.pause(0.001)
        title = app.screen.query_one("#task-title", Label)
        while not str(title.render()).strip():
            await pilot.pause(0.001)
        shown = time.perf_counter()
    client.close()
    return (listed - start) * 1000, (shown - listed) * 1000


class Frames:
    """Watches what the app draws: each frame is turned into terminal bytes as the real driver
    would (headless apps skip that step), and ``wait`` returns when a frame is drawn after
    ``ready()`` became true, so a timing covers the key's handling, the request, the layout,
    the rendering of the changed lines and their encoding for the terminal."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ready: Callable[[], bool] | None = None
        self.drawn = asyncio.Event()
        self.at = (0.0, 0.0)
        display = app._display

        def display_and_watch(screen: Any, update: Any) -> None:
            display(screen, update)
            if update is None or app._batch_count:  # repaints held (a mode switch): not drawn
                return
            update.render_segments(app.console)
            if self.ready is not None and self.ready():
                self.ready = None
                self.at = (time.perf_counter(), time.process_time())
                self.drawn.set()

        app._display = display_and_watch

    async def press(self, key: str, ready: Callable[[], bool]) -> tuple[float, float]:
        """Deliver ``key`` as the terminal driver does and wait for the first frame drawn once
        ``ready()`` holds. Returns (wall clock, the process's CPU time) in milliseconds."""
        from textual import events

        self.ready, self.drawn = ready, asyncio.Event()
        start = (time.perf_counter(), time.process_time())
        event = events.Key(key, KEY_CHARACTERS.get(key, key if len(key) == 1 else None))
        event.set_sender(self.app)
        self.app._driver.send_message(event)
        await asyncio.wait_for(self.drawn.wait(), 60)
        return (self.at[0] - start[0]) * 1000, (self.at[1] - start[1]) * 1000


#: the characters the keys this bench presses type
KEY_CHARACTERS = {"right_square_bracket": "]", "enter": "\r"}


async def key_times(db: Path, key: str, pages: int, capabilities: Sequence[str], searches: Sequence[str],
                    opens: int = 5) -> dict[str, list[tuple[float, float]]]:
    """Milliseconds from a key press to the frame that shows its result, as (wall clock, the
    process's CPU time), driven by the pilot on a 140x40 screen: ``t`` from the Agents screen
    until the task list is drawn with freshly loaded rows (``opens`` times); ``]`` for each of
    ``pages`` pages forward; each of ``capabilities`` typed in the emptied filters and Enter;
    each of ``searches`` likewise (each must match something). Also "start": from the app's
    start to its first task list drawn. On a loaded machine the CPU time is what the press
    costs, the wall clock what it took."""
    from textual.widgets import Input, Label

    from agentmarket_tui.app import AgentMarketApp
    from agentmarket_tui.screens import tasks
    from agentmarket_tui.screens.tasks import PAGE_SIZE

    # Only Enter applies the typed text: a typing pause on a slow machine would apply it first.
    tasks.SEARCH_DELAY_SECONDS = 3600
    client = open_client(db, key)
    app = AgentMarketApp(client, live=False)
    frames = Frames(app)
    times: dict[str, list[tuple[float, float]]] = {
        "start (no key)": [], "t: open the task list": [], "] next page": [],
        "capability + Enter": [], "search + Enter": []}
    shown = [0]

    def summary() -> str:
        return str(app.screen.query_one("#tasks-page", Label).render())

    def shown_after(count: int, first_row: int = 1) -> Callable[[], bool]:
        """Ready once the task screen has shown a page after ``count`` pages, starting at ``first_row``."""
        return lambda: (shown[0] > count and isinstance(app.screen, tasks.TasksScreen)
                        and summary().startswith(f"{first_row:,}–"))

    start = (time.perf_counter(), time.process_time())
    frames.ready = lambda: isinstance(app.screen, tasks.TasksScreen) and summary()[:1].isdigit()
    async with app.run_test(size=(140, 40)) as pilot:
        await asyncio.wait_for(frames.drawn.wait(), 120)
        times["start (no key)"].append(((frames.at[0] - start[0]) * 1000, (frames.at[1] - start[1]) * 1000))
        screen = app.screen
        show = screen.show

        def counted(page: Any) -> None:
            show(page)
            shown[0] += 1

        screen.show = counted  # type: ignore[method-assign]
        for _ in range(opens):
            await pilot.press("a")
            await pilot.pause()
            times["t: open the task list"].append(await frames.press("t", shown_after(shown[0])))
            await pilot.pause()
        app.screen.query_one("#tasks-table").focus()  # where the list's keys go; Enter there opens a task
        await pilot.pause()
        for page in range(1, pages + 1):
            times["] next page"].append(
                await frames.press("right_square_bracket", shown_after(shown[0], page * PAGE_SIZE + 1)))
            await pilot.pause()
        typed = [("#task-capability", text, "capability + Enter") for text in capabilities]
        typed += [("#task-search", text, "search + Enter") for text in searches]
        for field, text, into in typed:
            for emptied in app.screen.query("#task-filters Input").results(Input):
                emptied.value = ""
            app.screen.query_one(field, Input).focus()
            await pilot.press(*text)
            await pilot.pause()
            times[into].append(await frames.press("enter", shown_after(shown[0])))
            await pilot.pause()
    client.close()
    return times


def report(times: dict[str, list[tuple[float, float]]]) -> None:
    """Per action: presses, wall clock p50 / p90 / p99 / max and CPU p50 / max (ms); pages: the total."""
    print(f"{'key press -> drawn (ms)':28} {'n':>4} {'wall p50':>9} {'p90':>7} {'p99':>7} {'max':>7}"
          f" {'CPU p50':>8} {'max':>7}")
    for name, ms in times.items():
        wall, cpu = sorted(w for w, _ in ms), sorted(c for _, c in ms)
        print(f"{name:28} {len(ms):4} {statistics.median(wall):9.1f} {wall[int(len(wall) * 0.9)]:7.1f}"
              f" {wall[int(len(wall) * 0.99)]:7.1f} {wall[-1]:7.1f} {statistics.median(cpu):8.1f} {cpu[-1]:7.1f}")
        if name.startswith("]"):
            total, total_cpu = sum(wall), sum(cpu)
            print(f"{'  all pages forward':28} {len(ms):4} total wall {total:,.0f} ms ({total / len(ms):.1f}/page),"
                  f" CPU {total_cpu:,.0f} ms ({total_cpu / len(ms):.1f}/page)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--app-runs", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/agentmarket-bench"))
    parser.add_argument("--market", "--db", dest="db", type=Path, default=None,
                        help="A market built by scale_bench.py (its .json gives the key) instead of a simulated one."
                             " Opening it migrates it to this code's schema: point it at a copy.")
    parser.add_argument("--pages", type=int, default=100, help="Pages forward in the key-press timings.")
    parser.add_argument("--opens", type=int, default=5, help="Times 't' opens the task list from Agents.")
    parser.add_argument("--capability", nargs="+", default=["research", "writing", "coding", "translation",
                                                            "summarization"], help="Capabilities typed in the filter.")
    parser.add_argument("--search", nargs="+", default=["parser", "report", "haiku", "invoice", "audit"],
                        help="Words typed in the search (each must match a task).")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.db is not None:
        db, key = args.db, json.loads(Path(f"{args.db}.json").read_text())["keys"][1]
    else:
        db = args.cache / f"tui-{args.tasks}.db"
        key = build(db, args.tasks)
    client = open_client(db, key)
    try:
        first = client.list_tasks(limit=PAGE)
        task_id = first.items[0].id
        print(f"market: {first.total:,} tasks in {db}")
        print("task list page (median / p90 ms): %.2f / %.2f" % timed(lambda: client.list_tasks(limit=PAGE),
                                                                      args.repeat))
        print("task detail load (median / p90 ms): %.2f / %.2f" % timed(lambda: detail_load(client, task_id),
                                                                        args.repeat))
    finally:
        client.close()
    runs = [asyncio.run(app_times(db, key)) for _ in range(args.app_runs)]
    print("app: start to task list shown (median ms): %.1f" % statistics.median(r[0] for r in runs))
    print("app: Enter to task detail shown (median ms): %.1f" % statistics.median(r[1] for r in runs))
    report(asyncio.run(key_times(db, key, args.pages, args.capability, args.search, args.opens)))


if __name__ == "__main__":
    main()
