"""A 12-job grid sweep run one job at a time (Hydra's basic launcher, in one process) and
with 2 joblib workers, each on a fresh SQLite store: wall time, and runs lost.

    python bench/sweep.py [--repeats 3]

The grid: the default digits MLP, 3 learning rates x 2 widths x 2 seeds. A run is lost
when the sweep's parent run has fewer than 12 children or one did not end FINISHED.
"""

from __future__ import annotations

import argparse

from common import median, scratch_store, train, write_results

JOBS = 12
GRID = [
    "-m",
    "optimizer.lr=0.001,0.003,0.01",
    "model.hidden_sizes=[64],[128,64]",
    "seed=1,2",
    "logger.log_model=false",
]
LAUNCHERS = {
    "one at a time (basic launcher)": [],
    "2 workers (joblib)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
}


def runs_lost(store_uri: str) -> int:
    import mlflow

    mlflow.set_tracking_uri(store_uri)
    runs = mlflow.search_runs(search_all_experiments=True)
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    return JOBS - int((children["status"] == "FINISHED").sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    seconds = {name: [] for name in LAUNCHERS}
    lost = {name: 0 for name in LAUNCHERS}
    for repeat in range(args.repeats):
        for name, launcher in LAUNCHERS.items():
            scratch, store = scratch_store("sweep")  # fresh: the sweep creates it
            seconds[name].append(train([*GRID, *launcher], store, scratch))
            lost[name] += runs_lost(store)
            print(f"{name}, repeat {repeat}: {seconds[name][-1]:.1f} s", flush=True)

    baseline = median(seconds[next(iter(LAUNCHERS))])
    rows = "\n".join(
        f"| {name} | {median(times):.1f} | {', '.join(f'{t:.1f}' for t in times)} "
        f"| {baseline / median(times):.2f}x | {lost[name]} of {JOBS * args.repeats} |"
        for name, times in seconds.items()
    )
    body = f"""A {JOBS}-job grid (digits MLP: 3 learning rates x 2 widths x 2 seeds), launch to exit.

| launcher | median seconds | each repeat | speed-up | runs lost |
|---|---|---|---|---|
{rows}

Each job trains for a few seconds. One job at a time runs in the launching process
and already uses both cores for torch's operations. Each joblib worker is a new
process that imports torch and MLflow before its first job, and gets one thread."""
    write_results("sweep", "Sweeps: 12 jobs one at a time vs 2 parallel workers", body)


if __name__ == "__main__":
    main()
