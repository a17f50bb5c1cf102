"""Running the real commands against a test store: the store itself, `python -m
ml_experiments.<command>` in a subprocess, and reading back what a sweep logged."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The real data sets: ML_EXPERIMENTS_DATA_DIR if set, else the shared folder beside the project.
SHARED_DATA = Path(
    os.environ.get("ML_EXPERIMENTS_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data")
)


@dataclass
class Store:
    uri: str
    folder: Path

    def client(self):
        import mlflow

        return mlflow.MlflowClient(tracking_uri=self.uri)

    def runs(self, experiment_name: str):
        client = self.client()
        experiment = client.get_experiment_by_name(experiment_name)
        assert experiment is not None, f"no MLflow experiment named {experiment_name}"
        return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time"])

    def only_run(self, experiment_name: str):
        runs = self.runs(experiment_name)
        assert len(runs) == 1, f"expected one run in {experiment_name}, found {len(runs)}"
        return runs[0]


@dataclass
class Result:
    returncode: int
    output: str  # stdout and stderr together


def run_module(
    module: str,
    overrides: tuple[str, ...] | list[str],
    store: Store,
    data_dir: Path,
    outputs: Path,
    expect_success: bool = True,
    timeout: float = 300,
    extra_environment: dict[str, str] | None = None,
) -> Result:
    """`python -m ml_experiments.<module> overrides...` against the test store and data."""
    completed = subprocess.run(
        [sys.executable, "-m", f"ml_experiments.{module}", *train_arguments(outputs, overrides)],
        cwd=PROJECT_ROOT,
        env=train_environment(store, data_dir) | (extra_environment or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result = Result(completed.returncode, completed.stdout + completed.stderr)
    if expect_success:
        assert result.returncode == 0, result.output[-4000:]
    return result


def start_training(
    overrides: list[str], store: Store, data_dir: Path, outputs: Path, **popen_options
) -> subprocess.Popen:
    """`python -m ml_experiments.train` started in the background, for tests that signal
    it or run several at once."""
    return subprocess.Popen(
        [sys.executable, "-m", "ml_experiments.train", *train_arguments(outputs, overrides)],
        cwd=PROJECT_ROOT,
        env=train_environment(store, data_dir),
        **popen_options,
    )


def train_arguments(outputs: Path, overrides: tuple[str, ...] | list[str]) -> list[str]:
    # Flags such as -m first: Hydra's parser wants them before the overrides.
    flags = [item for item in overrides if item.startswith("-")]
    rest = [item for item in overrides if not item.startswith("-")]
    return [*flags, f"paths.outputs_dir={outputs}/outputs", *rest]


def train_environment(store: Store, data_dir: Path) -> dict[str, str]:
    return os.environ | {
        "MLFLOW_TRACKING_URI": store.uri,
        "ML_EXPERIMENTS_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }


# --- sweeps ---------------------------------------------------------------------

DIVERGING_LR = 1e6  # SGD on Boston turns the loss to inf/NaN within an epoch

GRID = [
    "-m",
    "experiment=boston_linear",
    "name=grid_sweep",
    f"optimizer.lr=0.01,{DIVERGING_LR}",
    "optimizer.momentum=0.0,0.9",
    "trainer.max_epochs=5",
    "logger.log_model=false",
]


def sweep_runs(store: Store, experiment: str):
    """The sweep's parent run and its children, ordered by job number."""
    runs = store.runs(experiment)
    parents = [run for run in runs if "sweep_dir" in run.data.tags]
    assert len(parents) == 1, [run.info.run_name for run in runs]
    parent = parents[0]
    parent_id = parent.info.run_id
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent_id]
    assert len(children) == len(runs) - 1, "every other run of the experiment is a child"
    return parent, sorted(children, key=lambda run: int(run.info.run_name.split()[0][1:]))


def artifact_paths(store: Store, run_id: str, folder: str) -> set[str]:
    return {item.path for item in store.client().list_artifacts(run_id, folder)}
