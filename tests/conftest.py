"""Fixtures every test folder shares: one migrated SQLite MLflow store, the real data
folder, the real entry point against both, and small files in real formats.

Tests under tests/e2e/ are marked `e2e`: `pytest -m "not e2e"` runs the fast rest.
A session that leaves the checkout changed (a file written into the project's own
folders, ignored ones included) fails, naming what changed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import data_files
from tests.helpers.kaggle_format import kaggle_rows, write_kaggle_csv
from tests.helpers.running import GRID, PROJECT_ROOT, SHARED_DATA, Result, Store, run_module

E2E_FOLDER = Path(__file__).parent / "e2e"
# Written by Python and the tools themselves, not by the tests.
TOOL_CACHES = ("__pycache__", ".pytest_cache", ".ruff_cache", ".egg-info")
CHECKOUT = pytest.StashKey[list[str] | None]()  # the checkout's state at the session's start


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_FOLDER in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[CHECKOUT] = checkout_state()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before, after = session.config.stash.get(CHECKOUT, None), checkout_state()
    if before is None or after is None or after == before:
        return
    changed = sorted(set(after) ^ set(before))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    reporter.ensure_newline()
    reporter.write_line(
        "the tests changed the checkout (write to tmp_path instead): " + ", ".join(changed),
        red=True,
    )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def checkout_state() -> list[str] | None:
    """`git status` of the project, ignored files included, without tool caches; None
    outside a git checkout."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return [line for line in status.splitlines() if not any(c in line for c in TOOL_CACHES)]


@pytest.fixture(scope="session")
def test_artifacts(tmp_path_factory) -> Path:
    """Where tests save what a person may want to look at (screenshots):
    ML_EXPERIMENTS_TEST_ARTIFACTS, else a folder of the session's temporary directory."""
    chosen = os.environ.get("ML_EXPERIMENTS_TEST_ARTIFACTS")
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "test_artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


@pytest.fixture
def train(store: Store, shared_data: Path, tmp_path: Path):
    """Run the real entry point with overrides; outputs go to a temporary folder."""

    def run(*overrides: str, expect_success: bool = True, timeout: float = 300) -> Result:
        return run_module("train", overrides, store, shared_data, tmp_path, expect_success, timeout)

    return run


@pytest.fixture(scope="session")
def grid_sweep(store, shared_data, tmp_path_factory):
    """A 2x2 grid over Boston, two of whose jobs diverge: (result, outputs folder)."""
    outputs = tmp_path_factory.mktemp("grid_sweep")
    result = run_module("train", GRID, store, shared_data, outputs)
    return result, outputs


@pytest.fixture
def kaggle_file(tmp_path: Path) -> Path:
    """A file in the Kaggle fake-news train.csv format, with its kinds of mess."""
    path = tmp_path / "train.csv"
    write_kaggle_csv(path, kaggle_rows())
    return path


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory) -> Path:
    return data_files.write_cifar(tmp_path_factory.mktemp("cifar"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return data_files.write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def resnet_file(tmp_path_factory) -> Path:
    return data_files.write_resnet18_state_dict(tmp_path_factory.mktemp("weights") / "resnet18.pth")
