"""Fashion-MNIST: `fashion_cnn` test accuracy and wall time over seeds, and each named
variant next to it, all through the real entry point.

    python bench/fashion.py [--seeds 3] [--variant-seeds 1] [--experiments NAME ...]

Each experiment's measurements are kept in results/fashion_mnist.json, so a run
that measures some experiments refreshes their rows and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import RESULTS_DIR, latest_run, median, scratch_store, train, write_results

RECIPE = "fashion_cnn"
CHANGES = {
    RECIPE: "the recipe",
    "fashion_cnn_no_bn": "without batch norm",
    "fashion_cnn_no_augment": "without augmentation",
    "fashion_cnn_small": "half width, one conv per stage",
    "fashion_cnn_wide": "double width",
    "fashion_cnn_fast": "one conv per stage, a 7x7 head grid, 5 epochs",
}
MEASUREMENTS = RESULTS_DIR / "fashion_mnist.json"


def measure(experiment: str, seeds: int, store: str, scratch: Path) -> dict:
    accuracies, seconds = [], []
    for seed in range(seeds):
        seconds.append(train([f"experiment={experiment}", f"seed={seed}"], store, scratch))
        accuracies.append(latest_run(store, experiment).data.metrics["test/acc"])
        print(f"{experiment} seed {seed}: {accuracies[-1]:.4f} in {seconds[-1]:.0f} s", flush=True)
    return {
        "measured": time.strftime("%Y-%m-%d"),
        "test_accuracy": accuracies,
        "median_seconds": median(seconds),
    }


def results_table(measurements: dict) -> str:
    rows = [
        f"| `{name}` | {CHANGES[name]} | {len(found['test_accuracy'])} "
        f"| {median(found['test_accuracy']):.2%} | {found['median_seconds']:.0f} "
        f"| {found['measured']} |"
        for name in CHANGES
        if (found := measurements.get(name))
    ]
    per_seed = ", ".join(f"{value:.2%}" for value in measurements[RECIPE]["test_accuracy"])
    return (
        "| experiment | change | seeds | median test accuracy | median seconds, launch to exit "
        "| measured |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\n`{RECIPE}` per seed: {per_seed}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the recipe")
    parser.add_argument("--variant-seeds", type=int, default=1)
    parser.add_argument("--experiments", nargs="+", default=list(CHANGES), choices=list(CHANGES))
    args = parser.parse_args()
    scratch, store = scratch_store("fashion")

    measurements = json.loads(MEASUREMENTS.read_text()) if MEASUREMENTS.exists() else {}
    for experiment in args.experiments:
        seeds = args.seeds if experiment == RECIPE else args.variant_seeds
        measurements[experiment] = measure(experiment, seeds, store, scratch)
        MEASUREMENTS.write_text(json.dumps(measurements, indent=2) + "\n")  # keep each one
    write_results(
        "fashion_mnist",
        "Fashion-MNIST: accuracy and time of `fashion_cnn` and its variants",
        results_table(measurements),
    )


if __name__ == "__main__":
    main()
