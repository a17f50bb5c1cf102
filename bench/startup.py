"""The default run, launch to exit: this checkout against an earlier commit, side by side.

    python bench/startup.py [--baseline f1bcd33] [--repeats 5]

The earlier commit is checked out in a temporary git worktree and run with the same
Python; the two take turns, each in a fresh SQLite store (the first run of a store
creates its tables, as a newcomer's first run does) and again in the same store (as
every later run does). The time is `python -m ml_experiments.train` with no options, from
launch to exit.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import PROJECT_ROOT, checkouts, median, train, write_results


def run_default(checkout: Path, outputs: Path) -> float:
    """The default run's seconds, on the store it uses by default: <outputs>/mlflow.db."""
    return train([], f"sqlite:///{outputs}/mlflow.db", outputs, checkout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="f1bcd33")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    with checkouts([args.baseline], scratch) as baseline:
        sides = {"baseline": baseline[args.baseline], "today": PROJECT_ROOT}
        times = {(side, store): [] for side in sides for store in ("new store", "same store")}
        for repeat in range(args.repeats):
            order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
            for side in order:
                outputs = scratch / f"{side}_{repeat}"
                times[(side, "new store")].append(run_default(sides[side], outputs))
                times[(side, "same store")].append(run_default(sides[side], outputs))
    write_results("startup", "Start-up: the default run, launch to exit", _table(times, args))


def _table(times: dict, args) -> str:
    lines = [
        f"Median of {args.repeats} runs each, the two sides taking turns; `baseline` is "
        f"commit {args.baseline}.",
        "",
        "| store | baseline (s) | today (s) | today / baseline |",
        "|---|---|---|---|",
    ]
    for store in ("new store", "same store"):
        before, after = median(times[("baseline", store)]), median(times[("today", store)])
        lines.append(f"| {store} | {before:.2f} | {after:.2f} | {after / before:.2f} |")
    lines += ["", "Every run: " + "; ".join(
        f"{side}, {store}: " + ", ".join(f"{value:.2f}" for value in values)
        for (side, store), values in times.items()
    ) + "."]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
