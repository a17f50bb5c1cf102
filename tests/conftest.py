"""Shared fixtures: one migrated SQLite MLflow store, the real data folder, and a runner
for the real entry point (`python -m ml_experiments.train`) in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Store:
    """One SQLite store for the whole session: creating and migrating one takes seconds."""
    import mlflow

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder}/mlflow.db"
    mlflow.MlflowClient(tracking_uri=uri).search_experiments()  # creates and migrates the schema
    return Store(uri, folder)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets beside the project. Missing data fails the test, never skips it."""
    if not (SHARED_DATA / "boston" / "boston.csv").is_file():
        pytest.fail(
            f"the real data sets are expected in {SHARED_DATA} (boston/boston.csv, MNIST/raw/...); "
            "they are missing, so the real-data tests cannot run. Set ML_EXPERIMENTS_DATA_DIR "
            "to the folder that holds them."
        )
    return SHARED_DATA


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


@pytest.fixture
def kaggle_file(tmp_path: Path) -> Path:
    """A file in the Kaggle fake-news train.csv format, with its kinds of mess."""
    from tests.kaggle_format import kaggle_rows, write_kaggle_csv

    path = tmp_path / "train.csv"
    write_kaggle_csv(path, kaggle_rows())
    return path


@pytest.fixture
def train(store: Store, shared_data: Path, tmp_path: Path):
    """Run the real entry point with overrides; outputs go to a temporary folder."""

    def run(*overrides: str, expect_success: bool = True, timeout: float = 300) -> Result:
        return run_module("train", overrides, store, shared_data, tmp_path, expect_success, timeout)

    return run


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


@pytest.fixture(scope="session")
def grid_sweep(store, shared_data, tmp_path_factory):
    """A 2x2 grid over Boston, two of whose jobs diverge: (result, outputs folder)."""
    outputs = tmp_path_factory.mktemp("grid_sweep")
    result = run_module("train", GRID, store, shared_data, outputs)
    return result, outputs
