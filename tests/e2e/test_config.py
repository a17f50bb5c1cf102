"""Printing the config or the help runs nothing and imports neither torch nor MLflow; the
default run imports no scikit-learn."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ml_experiments.config import register_configs
from tests.helpers.running import PROJECT_ROOT, train_arguments, train_environment

register_configs()


def test_cfg_job_prints_the_config_without_importing_torch_or_mlflow():
    # -X importtime lists every module the command imports, the __main__ block's included.
    printed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ml_experiments.train"]
        + ["--cfg", "job", "experiment=boston_linear"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "name: boston_linear" in printed.stdout
    assert "_target_: torch.optim.SGD" in printed.stdout
    imported = {line.rpartition("|")[2].strip() for line in printed.stderr.splitlines()}
    heavy = sorted(imported & {"torch", "mlflow", "sklearn", "optuna"})
    assert heavy == [], f"printing the config imported {heavy}"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        # Hydra chooses the run's folder only when a run starts: the resolved print says so.
        (["--cfg", "job", "--resolve"], "dir: <the run's output folder>/checkpoints"),
        (["--help"], "experiment: boston_least_squares, boston_linear, boston_linear_adam, "),
    ],
)
def test_printing_the_config_or_help_runs_nothing(flags, expected):
    printed = subprocess.run(
        [sys.executable, "-m", "ml_experiments.train", *flags],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert expected in printed.stdout


def test_the_default_run_imports_no_scikit_learn(store, shared_data, tmp_path):
    """scikit-learn and the scipy.stats it loads are about 1.5 s of every run's start-up; the
    default run splits its digits and reports on them without them. A fresh interpreter:
    the tests' pre-started one has imported scikit-learn already."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ml_experiments.train",
         *train_arguments(tmp_path, [])],
        cwd=PROJECT_ROOT, env=train_environment(store, shared_data), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    imported = {line.rpartition("|")[2].strip() for line in completed.stderr.splitlines()}
    assert {"ml_experiments.reporting.classification", "mlflow.pyfunc"} <= imported
    assert not {name for name in imported if name.startswith(("sklearn", "scipy.stats"))}
