"""A 12-job grid sweep run one job at a time (Hydra's basic launcher, in one process) and
with 2 joblib workers, each on a fresh SQLite store: wall time, each job's cost beyond
its training, and runs lost; optionally against an earlier commit, side by side.

    python bench/sweep.py [--repeats 3] [--baseline <commit> ...] [--idle-wait 600]
                          [--most-others 0.15]

The grid: the default digits MLP, 3 learning rates x 2 widths x 2 seeds. A run is lost
when the sweep's parent run has fewer than 12 children or one did not end FINISHED.

A job's time runs from the end of the previous job in the same process (the sweep's
launch, for a process's first job) to the end of its own MLflow run: Hydra's work
between jobs, opening the run, data, model, training, report and logging. Its training
is the sum of its epochs' `time/epoch_seconds` (training batches and validation); the
overhead is the difference. Medians over the jobs of all repeats.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import PROJECT_ROOT, checkouts, median, scratch_store, train, write_results

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


@dataclass
class Measured:
    """One launcher on one checkout, over all repeats."""

    walls: list[float] = field(default_factory=list)
    before_first_run: list[float] = field(default_factory=list)  # launch to the first run
    after_last_run: list[float] = field(default_factory=list)  # the last run's end to exit
    jobs: list[float] = field(default_factory=list)  # each job's seconds, all repeats
    runs: list[float] = field(default_factory=list)  # the same jobs' MLflow runs, start to end
    training: list[float] = field(default_factory=list)  # the same jobs' training seconds
    lost: int = 0
    others_share: list[float] = field(default_factory=list)  # the cores others used meanwhile

    def overheads(self, times: list[float]) -> list[float]:
        return [time - trained for time, trained in zip(times, self.training, strict=True)]


def sweep_children(store_uri: str) -> list:
    """The child runs of the store's one sweep."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    runs = client.search_runs(experiments, max_results=1000)
    return [run for run in runs if "mlflow.parentRunId" in run.data.tags]


def training_seconds(client, run) -> float:
    history = client.get_metric_history(run.info.run_id, "time/epoch_seconds")
    return sum(metric.value for metric in history)


def job_seconds(runs: list, launched: float) -> dict[str, float]:
    """run id -> seconds from the previous run's end in the same process (or the launch)."""
    by_process: dict[str, list] = {}
    for run in runs:
        by_process.setdefault(run.data.tags.get("pid", "?"), []).append(run)
    seconds = {}
    for process_runs in by_process.values():
        previous_end = launched
        for run in sorted(process_runs, key=lambda run: run.info.end_time):
            seconds[run.info.run_id] = run.info.end_time / 1000 - previous_end
            previous_end = run.info.end_time / 1000
    return seconds


def record(measured: Measured, store_uri: str, launched: float, wall: float) -> None:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store_uri)
    runs = sweep_children(store_uri)
    finished = [run for run in runs if run.info.status == "FINISHED"]
    measured.walls.append(wall)
    measured.lost += JOBS - len(finished)
    measured.before_first_run.append(min(run.info.start_time for run in runs) / 1000 - launched)
    measured.after_last_run.append(launched + wall - max(run.info.end_time for run in runs) / 1000)
    by_id = {run.info.run_id: run for run in finished}
    for run_id, seconds in job_seconds(finished, launched).items():
        run = by_id[run_id]
        measured.jobs.append(seconds)
        measured.runs.append((run.info.end_time - run.info.start_time) / 1000)
        measured.training.append(training_seconds(client, run))


def busy_cpu_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot (None off Linux)."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    ticks = [int(value) for value in stat.read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of the sweeps this script ran and waited for (their workers included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def others_share(busy_before, own_before, wall: float) -> float | None:
    """The share of the machine's cores that other processes used during a sweep: the
    machine is shared, and a busy one slows a sweep down (torch's threads most)."""
    busy_after = busy_cpu_seconds()
    if busy_before is None or busy_after is None:
        return None
    others = (busy_after - busy_before) - (own_cpu_seconds() - own_before)
    return max(others, 0.0) / (wall * (os.cpu_count() or 1))


def wait_until_idle(most_seconds: float, window: float = 3.0, idle_share: float = 0.1) -> None:
    """On a shared machine, wait (at most `most_seconds`) until other processes leave the
    cores nearly idle for a few seconds before a sweep starts. The share they used during
    each sweep is reported either way."""
    give_up = time.time() + most_seconds
    while time.time() < give_up:
        before = busy_cpu_seconds()
        if before is None:
            return
        time.sleep(window)
        if (busy_cpu_seconds() - before) / (window * (os.cpu_count() or 1)) < idle_share:
            return


def imported_package(checkout: Path) -> Path:
    """The package `python -m ml_experiments.train` imports when run in `checkout`."""
    completed = subprocess.run(
        [sys.executable, "-c", "import ml_experiments; print(ml_experiments.__file__)"],
        cwd=checkout,
        env=os.environ | {"PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(completed.stdout.strip()).parent


def measure(
    sides: dict[str, Path], repeats: int, idle_wait: float, most_others: float
) -> dict[tuple[str, str], Measured]:
    """Every side runs every launcher once per repeat, the sides taking turns."""
    results = {(side, name): Measured() for side in sides for name in LAUNCHERS}
    for repeat in range(repeats):
        order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
        for side in order:
            for name, launcher in LAUNCHERS.items():
                sweep = [*GRID, *launcher]
                timed_sweep(results[(side, name)], sweep, sides[side], idle_wait, most_others)
                wall = results[(side, name)].walls[-1]
                print(f"{side}, {name}, repeat {repeat}: {wall:.1f} s", flush=True)
    return results


def timed_sweep(
    measured: Measured, sweep: list[str], checkout: Path, idle_wait: float, most_others: float
) -> None:
    """One sweep on a fresh store, recorded; run again (up to 3 times in all) while other
    processes took more than `most_others` of the cores meanwhile."""
    for attempt in range(3):
        scratch, store = scratch_store("sweep")  # fresh: the sweep creates it
        wait_until_idle(idle_wait)
        busy, own, launched = busy_cpu_seconds(), own_cpu_seconds(), time.time()
        wall = train(sweep, store, scratch, checkout)
        share = others_share(busy, own, wall)
        if share is None or share <= most_others or attempt == 2:
            break
        print(f"  other processes took {share:.0%} of the cores: once more", flush=True)
    record(measured, store, launched, wall)
    if share is not None:
        measured.others_share.append(share)


def table(results: dict[tuple[str, str], Measured]) -> str:
    lines = [
        "| checkout | launcher | wall (s) | 2 workers vs 1 | launch to first run (s) "
        "| job (s) | training (s) | overhead in the run (s) | overhead per job (s) "
        "| last run to exit (s) | runs lost |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (side, name), measured in results.items():
        one_at_a_time = results[(side, next(iter(LAUNCHERS)))]
        speed_up = median(one_at_a_time.walls) / median(measured.walls)
        lines.append(
            f"| {side} | {name} | {median(measured.walls):.1f} | {speed_up:.2f}x "
            f"| {median(measured.before_first_run):.1f} | {median(measured.jobs):.2f} "
            f"| {median(measured.training):.2f} | {median(measured.overheads(measured.runs)):.2f} "
            f"| {median(measured.overheads(measured.jobs)):.2f} "
            f"| {median(measured.after_last_run):.1f} | {measured.lost} of "
            f"{JOBS * len(measured.walls)} |"
        )
    walls = "; ".join(
        f"{side}, {name}: {', '.join(f'{wall:.1f}' for wall in measured.walls)}"
        for (side, name), measured in results.items()
    )
    shares = [share for measured in results.values() for share in measured.others_share]
    noise = (
        f" Other processes used {min(shares):.0%} to {max(shares):.0%} (median "
        f"{median(shares):.0%}) of the machine's cores during the sweeps."
        if shares
        else ""
    )
    return "\n".join(lines) + f"\n\nWall times of each repeat (s): {walls}.{noise}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--baseline", action="append", default=[], help="an earlier commit (repeatable)"
    )
    parser.add_argument(
        "--idle-wait",
        type=float,
        default=600,
        help="seconds to wait at most, before each sweep, for other processes to go idle",
    )
    parser.add_argument(
        "--most-others",
        type=float,
        default=0.15,
        help="share of the cores other processes may take during a sweep before it is rerun",
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    with checkouts(args.baseline, scratch) as baselines:
        sides = {f"baseline {commit}": folder for commit, folder in baselines.items()}
        sides["today"] = PROJECT_ROOT
        for side, checkout in sides.items():
            package = imported_package(checkout)
            assert package.parent == checkout.resolve(), f"{side} imports {package}"
        results = measure(sides, args.repeats, args.idle_wait, args.most_others)
    body = f"""A {JOBS}-job grid (digits MLP: 3 learning rates x 2 widths x 2 seeds), {args.repeats} \
repeats; medians.

{table(results)}

Wall: launch to exit. A job runs from the end of the previous job in the same process
(from the launch, for a process's first job) to the end of its MLflow run: Hydra's work
between jobs, opening the run, data, model, training, report and logging. Its training
is the sum of its epochs' `time/epoch_seconds` (training batches and validation). The
overhead in the run is the MLflow run's end minus its start, less training; the overhead
per job is the job less training. Job, training and overheads: medians over all jobs of
all repeats."""
    write_results("sweep", "Sweeps: 12 jobs one at a time vs 2 parallel workers", body)


if __name__ == "__main__":
    main()
