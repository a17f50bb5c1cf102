"""Running the real commands against a test store: the store itself, `python -m
ml_experiments.<command>` in a child process (forked from a pre-started Python, see
tests/helpers/prestarted.py, or a fresh interpreter), and reading back what a sweep
logged."""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
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
    result = run_python_module(
        f"ml_experiments.{module}",
        train_arguments(outputs, overrides),
        train_environment(store, data_dir) | (extra_environment or {}),
        timeout,
    )
    if expect_success:
        assert result.returncode == 0, result.output[-4000:]
    return result


def run_python_module(module: str, args: list[str], env: dict[str, str], timeout: float) -> Result:
    """`python -m module args` in the project's folder: forked from the pre-started Python
    (tests/helpers/prestarted.py), or in a fresh interpreter when
    ML_EXPERIMENTS_TEST_FRESH_INTERPRETERS is set."""
    if os.environ.get("ML_EXPERIMENTS_TEST_FRESH_INTERPRETERS"):
        completed = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        return Result(completed.returncode, completed.stdout + completed.stderr)
    return prestarted_python().run(module, args, env, timeout)


class PrestartedPython:
    """The client of one tests/helpers/prestarted.py server."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="prestarted-"))
        self.numbers = itertools.count()
        self.lock = threading.Lock()  # one request and its answer at a time
        self.server = subprocess.Popen(
            [sys.executable, "-u", "-m", "tests.helpers.prestarted"],
            cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        answer = json.loads(self.server.stdout.readline() or '{"error": "it exited"}')
        if "error" in answer:
            raise RuntimeError(f"the pre-started Python cannot serve: {answer['error']}")

    def run(self, module: str, args: list[str], env: dict[str, str], timeout: float) -> Result:
        number = next(self.numbers)
        output, status = self.folder / f"{number}.out", self.folder / f"{number}.status"
        request = {"module": module, "args": args, "env": env, "cwd": str(PROJECT_ROOT),
                   "output": str(output), "status": str(status)}  # fmt: skip
        with self.lock:
            self.server.stdin.write(json.dumps(request) + "\n")
            self.server.stdin.flush()
            answer = self.server.stdout.readline()
        if not answer:
            raise RuntimeError(f"the pre-started Python exited ({self.server.poll()})")
        pid = json.loads(answer)["pid"]
        deadline = time.monotonic() + timeout
        while not status.exists():
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired([module, *args], timeout, output.read_text())
            time.sleep(0.05)
        return Result(int(status.read_text()), output.read_text(errors="replace"))

    def close(self) -> None:
        self.server.stdin.close()  # the server kills what still runs, and exits
        self.server.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


_prestarted: list[PrestartedPython] = []
_prestarting = threading.Lock()


def prestarted_python() -> PrestartedPython:
    """This process's pre-started Python, started on first use and stopped at exit."""
    with _prestarting:
        if not _prestarted:
            _prestarted.append(PrestartedPython())
            atexit.register(_prestarted[0].close)
        return _prestarted[0]


def start_training(
    overrides: list[str], store: Store, data_dir: Path, outputs: Path, **popen_options
) -> subprocess.Popen:
    """`python -m ml_experiments.train` started in the background in a fresh interpreter,
    for tests that signal it or run several at once."""
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
