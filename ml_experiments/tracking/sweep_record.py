"""What a sweep's jobs share: the parent run they nest under, read from a small file in
the sweep folder, and how each child run is named.

The launching process writes the file (`sweeps.start_parent_run`); each job, in
whatever process or machine the launcher runs it, reads it back.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SWEEP_FILE = "mlflow_sweep.json"


@dataclass
class Sweep:
    """What every job of a sweep needs to know to nest its run."""

    parent_run_id: str
    experiment_id: str
    tracking_uri: str
    swept_keys: list[str]
    optimized_metric: str
    register_best_as: str | None = None  # the registered model the best run becomes


def write_sweep(sweep: Sweep, sweep_dir: Path) -> None:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / SWEEP_FILE).write_text(json.dumps(asdict(sweep), indent=2))


def read_sweep(sweep_dir: Path) -> Sweep | None:
    """The sweep a job belongs to, or None when no parent run was opened for it."""
    sweep = recorded_sweep(sweep_dir)
    if sweep is None:
        log.warning(
            "no %s in %s: this job's run is not nested under a parent", SWEEP_FILE, sweep_dir
        )
    return sweep


def recorded_sweep(sweep_dir: Path) -> Sweep | None:
    """The sweep recorded in `sweep_dir` (by this multirun or an earlier one), if any."""
    path = sweep_dir / SWEEP_FILE
    return Sweep(**json.loads(path.read_text())) if path.is_file() else None


def child_run_name(job_number: int, overrides: list[str], keys: list[str]) -> str:
    """`#3 optimizer.lr=0.01 optimizer=sgd`: the job's number and what it varies.
    Long numbers (Optuna's samples) are shortened to 4 digits; the params keep them whole."""
    varied = [_shortened(item) for item in overrides if key_of(item) in keys]
    return " ".join([f"#{job_number}", *varied])


def key_of(override: str) -> str:
    """`+optimizer.lr=0.1` -> `optimizer.lr`."""
    return override.split("=", 1)[0].lstrip("+~")


def _shortened(override: str) -> str:
    key, _, value = override.partition("=")
    try:
        number = float(value)
    except ValueError:
        return override
    short = f"{number:.4g}"
    return override if float(short) == number else f"{key}={short}"
