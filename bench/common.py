"""Shared pieces of the benchmarks: running the real entry point, reading results back,
describing the machine, and writing results/*.md."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data"


def data_dir() -> Path:
    return Path(os.environ.get("ML_EXPERIMENTS_DATA_DIR", DEFAULT_DATA))


def load_mnist(seed: int):
    """The whole of MNIST in memory, as the `mnist` dataset option loads it."""
    from ml_experiments.data.vision import load_torchvision_images

    return load_torchvision_images(
        name="mnist",
        source="mnist",
        root=str(data_dir()),
        download=False,
        val_size=5000,
        train_subset=None,
        test_subset=None,
        resize=None,
        augment={},
        seed=seed,
    )


def machine() -> str:
    import torch

    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def scratch_store(name: str) -> tuple[Path, str]:
    """A new temporary folder for outputs, and the URI of a fresh SQLite store in it."""
    scratch = Path(tempfile.mkdtemp(prefix=f"bench_{name}_"))
    return scratch, f"sqlite:///{scratch}/mlflow.db"


def train(
    overrides: list[str], store_uri: str, outputs: Path, checkout: Path = PROJECT_ROOT
) -> float:
    """Run `python -m ml_experiments.train` of `checkout` (`-m` imports the package of the
    working directory first; PYTHONPATH makes worker processes, such as joblib's, import
    it too); return its wall time, launch to exit, in seconds."""
    flags = [item for item in overrides if item.startswith("-")]  # Hydra wants them first
    rest = [item for item in overrides if not item.startswith("-")]
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ml_experiments.train",
            *flags,
            f"paths.outputs_dir={outputs}",
            *rest,
        ],
        cwd=checkout,
        env=os.environ
        | {
            "MLFLOW_TRACKING_URI": store_uri,
            "ML_EXPERIMENTS_DATA_DIR": str(data_dir()),
            "PYTHONPATH": str(checkout),
        },
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"training failed: {overrides}\n{completed.stderr[-3000:]}")
    return elapsed


@contextmanager
def checkouts(commits: list[str], folder: Path) -> Iterator[dict[str, Path]]:
    """Each commit checked out in a temporary git worktree under `folder` (commit ->
    its folder), removed again afterwards."""
    found = {}
    try:
        for commit in commits:
            found[commit] = folder / commit
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(found[commit]), commit],
                cwd=PROJECT_ROOT,
                check=True,
                capture_output=True,
            )
        yield found
    finally:
        for checkout in found.values():
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(checkout)],
                cwd=PROJECT_ROOT,
                capture_output=True,
            )


def latest_run(store_uri: str, experiment: str):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store_uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])
    return runs[0]


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_results(name: str, title: str, body: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.md"
    stamp = time.strftime("%Y-%m-%d")
    command = " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    path.write_text(
        f"# {title}\n\nMeasured {stamp} on: {machine()}.\n\nCommand: `{command}`\n\n{body}\n"
    )
    print(path.read_text())
    return path
