"""Fashion-MNIST: `fashion_cnn` test accuracy and wall time over seeds, and each named
variant next to it, all through the real entry point.

    python bench/fashion.py [--seeds 3] [--variant-seeds 1] [--variants NAME ...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import latest_run, median, train, write_results

VARIANTS = {
    "fashion_cnn_no_bn": "without batch norm",
    "fashion_cnn_no_augment": "without augmentation",
    "fashion_cnn_small": "half width, one conv per stage",
    "fashion_cnn_wide": "double width",
}


def measure(experiment: str, seeds: int, store: str, scratch: Path) -> list[tuple[float, float]]:
    results = []
    for seed in range(seeds):
        seconds = train([f"experiment={experiment}", f"seed={seed}"], store, scratch)
        accuracy = latest_run(store, experiment).data.metrics["test/acc"]
        results.append((seconds, accuracy))
        print(f"{experiment} seed {seed}: {accuracy:.4f} in {seconds:.0f} s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variant-seeds", type=int, default=1)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench_fashion_"))
    store = f"sqlite:///{scratch}/mlflow.db"

    rows = []
    main_results = measure("fashion_cnn", args.seeds, store, scratch)
    rows.append(("`fashion_cnn`", "the recipe", main_results))
    for variant in args.variants:
        change = VARIANTS[variant]
        rows.append((f"`{variant}`", change, measure(variant, args.variant_seeds, store, scratch)))

    table = "\n".join(
        f"| {name} | {change} | {len(results)} | {median([r[1] for r in results]):.2%} "
        f"| {median([r[0] for r in results]):.0f} |"
        for name, change, results in rows
    )
    seeds = ", ".join(f"{accuracy:.2%}" for _, accuracy in main_results)
    body = f"""| experiment | change | seeds | median test accuracy | median seconds, launch to exit |
|---|---|---|---|---|
{table}

`fashion_cnn` per seed: {seeds}."""
    write_results(
        "fashion_mnist",
        "Fashion-MNIST: accuracy and time of `fashion_cnn` and its variants",
        body,
    )


if __name__ == "__main__":
    main()
