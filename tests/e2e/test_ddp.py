"""Data-parallel training under the real torchrun: two processes on gloo (CPU), one MLflow
run logged by rank 0, the weights one process learns, and a rank that dies."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch

from tests.helpers.running import (
    PROJECT_ROOT,
    Store,
    artifact_paths,
    run_module,
    start_training,
    train_arguments,
    train_environment,
)

# The digits MLP without dropout, on a global batch of 64 over 3 epochs: the batch splits
# in two slices, and the epoch's last batch (1257 % 64 = 41 examples) in unequal ones.
DIGITS = ["model.dropout=0", "trainer.batch_size=64", "trainer.max_epochs=3"]
# Measured: 1.3e-6 at most over the weights (the largest about 0.46). Float32 sums in
# another order (two half-batches, two threads) differ in their last bits, and three
# epochs of Adam carry that along; a slice trained twice or weighted wrongly moves
# weights by 1e-3 and more.
WEIGHT_TOLERANCE = 1e-5


def start_torchrun(overrides: list[str], store: Store, data_dir: Path, outputs: Path):
    """`torchrun --standalone --nproc-per-node=2 -m ml_experiments.train overrides...`"""
    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         "-m", "ml_experiments.train", *train_arguments(outputs, overrides)],
        cwd=PROJECT_ROOT, env=train_environment(store, data_dir),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def finished(process: subprocess.Popen, timeout: float = 300) -> str:
    output, _ = process.communicate(timeout=timeout)
    return output


def last_checkpoint(folder: Path) -> dict:
    (path,) = folder.glob("*/last.pt")  # <dir>/<run id>/last.pt
    return torch.load(path, weights_only=True)


@pytest.fixture(scope="module")
def one_and_two_processes(store, shared_data, tmp_path_factory):
    """The same run in one process and, at the same time, in two: their folders."""
    one, two = tmp_path_factory.mktemp("one_process"), tmp_path_factory.mktemp("two_processes")
    single = start_training(
        ["name=ddp_one", *DIGITS, f"trainer.checkpoint.dir={one}/ckpt",
         "logger.log_model=false", "logger.log_figures=false"],
        store, shared_data, one, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    double = start_torchrun(
        ["name=ddp_two", *DIGITS, f"trainer.checkpoint.dir={two}/ckpt"], store, shared_data, two
    )
    for process in (single, double):
        output = finished(process)
        assert process.returncode == 0, output[-4000:]
    return one, two


@pytest.mark.slow
def test_two_processes_learn_the_weights_of_one(one_and_two_processes, store):
    one, two = (last_checkpoint(folder / "ckpt") for folder in one_and_two_processes)
    assert one["epoch"] == two["epoch"] == 3
    difference = max(
        (one["model"][name] - two["model"][name]).abs().max().item() for name in one["model"]
    )
    assert difference <= WEIGHT_TOLERANCE
    # What rank 0 logged is what the single process logged (metrics of every example once).
    logged = [store.only_run(name).data.metrics for name in ("ddp_one", "ddp_two")]
    for key in ("train/loss", "val/loss", "val/acc", "test/loss", "test/acc", "test/f1_macro"):
        assert logged[1][key] == pytest.approx(logged[0][key], abs=1e-5), key


@pytest.mark.slow
def test_rank_zero_alone_logs_one_run_in_one_output_folder(one_and_two_processes, store):
    run = store.only_run("ddp_two")  # rank 1 opened none
    assert run.info.status == "FINISHED"
    assert run.data.tags["processes"] == "2"
    assert run.data.tags["distributed_backend"] == "gloo"
    run_id = run.info.run_id
    assert artifact_paths(store, run_id, "checkpoints") == {"checkpoints/best.pt"}
    assert "figures/confusion_matrix.png" in artifact_paths(store, run_id, "figures")
    assert artifact_paths(store, run_id, "logs") == {"logs/train.log", "logs/train_rank1.log"}
    assert artifact_paths(store, run_id, "model_state") == {"model_state/weights.pt"}
    assert len(store.client().search_logged_models([run.info.experiment_id])) == 1
    # Both processes wrote into rank 0's Hydra folder, each its own log.
    (folder,) = (one_and_two_processes[1] / "outputs" / "runs").iterdir()
    assert sorted(path.name for path in folder.iterdir()) == [
        ".hydra", "train.log", "train_rank1.log"
    ]  # fmt: skip
    rank_one_log = (folder / "train_rank1.log").read_text()
    assert "process 1 of 2 on cpu (gloo)" in rank_one_log
    assert "MLflow run" not in rank_one_log


def wait_for_epoch(checkpoints: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not list(checkpoints.glob("*/last.pt")):
        assert process.poll() is None, process.communicate()[0][-4000:]
        assert time.monotonic() < deadline, "no epoch finished in time"
        time.sleep(0.5)


def rank_process(torchrun: subprocess.Popen, rank: int) -> psutil.Process:
    (worker,) = [
        child
        for child in psutil.Process(torchrun.pid).children(recursive=True)
        if child.environ().get("RANK") == str(rank)
    ]
    return worker


@pytest.mark.slow
def test_a_dead_rank_stops_the_run_and_resume_continues_it(store, shared_data, tmp_path):
    name = "ddp_killed"
    checkpoints = tmp_path / "ckpt"
    endless = [
        f"name={name}",
        "model.dropout=0",
        "trainer.max_epochs=100000",
        "trainer.early_stopping.enabled=false",
        f"trainer.checkpoint.dir={checkpoints}",
    ]
    torchrun = start_torchrun(endless, store, shared_data, tmp_path)
    wait_for_epoch(checkpoints, torchrun)
    rank_process(torchrun, rank=1).send_signal(signal.SIGKILL)
    output = finished(torchrun, timeout=120)
    assert torchrun.returncode != 0
    assert "rank      : 1" in output and "(SIGKILL)" in output
    run = store.only_run(name)
    assert run.info.status in ("FAILED", "KILLED"), output[-4000:]
    # Both processes continue the run from its last checkpoint, to two more epochs.
    epochs = last_checkpoint(checkpoints)["epoch"] + 2
    resumed = start_torchrun(
        [*endless, f"trainer.max_epochs={epochs}", f"trainer.resume={run.info.run_id}"],
        store, shared_data, tmp_path,
    )  # fmt: skip
    output = finished(resumed)
    assert resumed.returncode == 0, output[-4000:]
    run = store.only_run(name)
    assert run.info.status == "FINISHED"
    steps = [point.step for point in store.client().get_metric_history(run.info.run_id, "val/loss")]
    # Every epoch once, and the epoch the kill cut short once more at most: its metrics
    # may be logged while its checkpoint was not written yet (docs/checkpoints.md).
    assert sorted(set(steps)) == list(range(1, epochs + 1))
    assert len(steps) - len(set(steps)) <= 1


def test_a_scikit_learn_model_under_torchrun_stops_with_a_clear_message(
    store, shared_data, tmp_path
):
    torchrun = start_torchrun(
        ["name=ddp_sklearn", "model=sklearn_linear"], store, shared_data, tmp_path
    )
    output = finished(torchrun, timeout=120)
    assert torchrun.returncode != 0
    assert "model=sklearn_linear is fitted by scikit-learn in one process" in output
    assert store.client().get_experiment_by_name("ddp_sklearn") is None  # no run was opened


def test_a_sweep_of_jobs_on_several_gpus_each_composes_for_slurm(store, shared_data, tmp_path):
    """Each job of a SLURM sweep as two tasks, which train it together (docs/distributed.md)."""
    result = run_module(
        "train",
        ["--cfg=hydra", "hydra/launcher=slurm", "hydra.launcher.tasks_per_node=2",
         "hydra.launcher.gpus_per_node=2"],
        store, shared_data, tmp_path,
    )  # fmt: skip
    assert "tasks_per_node: 2" in result.output
    assert "gpus_per_node: 2" in result.output
    assert "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in result.output
