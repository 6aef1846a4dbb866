"""Does a higher fee concentrate wealth? The sweep and figure behind docs/SIMULATION.md's example.

    python scripts/fee_concentration.py [--seeds 10] [--tasks 3000] [--out docs/figures]

Writes ``fee-concentration.png`` and ``fee-concentration.csv`` (the sweep's summary)
into ``--out``. Needs the ``sim`` and ``plot`` extras only for the picture.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.simulation import Scenario, sweep  # noqa: E402
from engine.simulation import tables  # noqa: E402
from engine.simulation.plots import plot_sweep  # noqa: E402

FEES = [0, 5, 10, 20, 30, 50]
MEASURES = ("gini", "top10_work_share", "credits_in_wallets", "fees_collected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "figures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} runs", end="", file=sys.stderr, flush=True)

    result = sweep({"fee_percent": FEES}, args.seeds, base=Scenario(agents=args.agents, tasks=args.tasks),
                   on_run=progress)
    print(file=sys.stderr)
    rows = [r for r in result.summary() if r["measure"] in MEASURES]
    tables.write(args.out / "fee-concentration.csv", rows, result.summary_columns)
    plot_sweep(result, args.out / "fee-concentration.png", measures=MEASURES)
    for row in rows:
        if row["measure"] == "gini":
            print(f"fee {row['fee_percent']:>3} %: Gini {row['mean']:.3f} "
                  f"(95 % interval {row['ci_low']:.3f} to {row['ci_high']:.3f}, n={row['n']})")


if __name__ == "__main__":
    main()
