"""Runs that go wrong end FAILED or KILLED, and users get one clear message."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.helpers.running import run_module, start_training


def wait_for_checkpoint(folder, process, minimum_epoch: int = 1, timeout: float = 120):
    """Block until a training process has written a checkpoint of at least `minimum_epoch`."""
    import torch

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be interrupted"
        for path in folder.rglob("checkpoints/*/last.pt"):  # <dir>/<run id>/last.pt
            if torch.load(path, weights_only=True)["epoch"] >= minimum_epoch:
                return path
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint in {folder} after {timeout} s")


def test_diverging_loss_fails_the_run_with_the_reason(train, store):
    result = train(
        "experiment=boston_linear", "name=fail_nan", "optimizer.lr=1e6", expect_success=False
    )
    assert result.returncode == 1
    assert "training diverged. Lower optimizer.lr" in result.output
    assert "Traceback" not in result.output
    run = store.only_run("fail_nan")
    assert run.info.status == "FAILED"
    assert "TrainingDiverged" in run.data.tags["end_reason"]
    artifacts = [item.path for item in store.client().list_artifacts(run.info.run_id, "error")]
    assert artifacts == ["error/traceback.txt"]


def test_missing_data_file_fails_and_says_where_it_looked(train, store, tmp_path):
    empty = tmp_path / "no_data_here"
    result = train(
        "experiment=boston_linear",
        "name=fail_data",
        f"paths.data_dir={empty}",
        "dataset.download=false",
        expect_success=False,
    )
    assert result.returncode == 1
    assert f"Boston housing data not found at {empty}/boston/boston.csv" in result.output
    assert "ML_EXPERIMENTS_DATA_DIR" in result.output
    assert store.only_run("fail_data").info.status == "FAILED"


def test_a_misspelled_metric_is_refused_before_a_run_is_opened(train, store):
    result = train("name=fail_metric", "optimized_metric=val/accuracy", expect_success=False)
    assert result.returncode == 1
    assert "optimized_metric=val/accuracy is not a metric any run logs" in result.output
    assert "val/acc" in result.output and "Traceback" not in result.output
    assert store.client().get_experiment_by_name("fail_metric") is None


def test_csv_problems_name_the_column(train, tmp_path):
    table = tmp_path / "houses.csv"
    table.write_text("rooms,price\n" + "3,100\n4,cheap\n5,300\n2,150\n" * 3)
    missing = train(
        "dataset=csv", f"dataset.path={table}", "dataset.target=cost", expect_success=False
    )
    assert "target column 'cost' is not in" in missing.output
    assert "its columns are ['rooms', 'price']" in missing.output
    text = train(
        "dataset=csv", f"dataset.path={table}", "dataset.target=price", expect_success=False
    )
    assert "regression target 'price'" in text.output and "non-numeric values" in text.output


def test_unreadable_checkpoint_is_refused(train, tmp_path):
    broken = tmp_path / "last.pt"
    broken.write_bytes(b"this is not a checkpoint")
    result = train(f"trainer.resume={broken}", expect_success=False)
    assert f"cannot read checkpoint {broken}" in result.output
    assert "Traceback" not in result.output
    assert "weights_only" not in result.output  # torch's advice to load unsafely is left out


def test_resuming_against_another_store_names_the_missing_run(train, store, shared_data, tmp_path):
    train("name=fail_store", "debug=fast")
    run = store.only_run("fail_store")
    last = f"{run.data.tags['checkpoint_dir']}/last.pt"
    other_store = f"sqlite:///{tmp_path}/other.db"
    result = run_module(
        "train",
        ["name=fail_store", "debug=fast", f"trainer.resume={last}"],
        store,
        shared_data,
        tmp_path / "elsewhere",
        expect_success=False,
        extra_environment={"MLFLOW_TRACKING_URI": other_store},
    )
    assert result.returncode == 1
    assert f"the checkpoint belongs to MLflow run {run.info.run_id}, which is not in" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_a_checkpoint_that_does_not_fit_is_refused_and_the_run_keeps_its_status(
    train, store, tmp_path
):
    rows = "".join(f"{i},{i % 7},{2 * i + 1}\n" for i in range(60))
    narrow, wide = tmp_path / "narrow.csv", tmp_path / "wide.csv"
    narrow.write_text("a,b,y\n" + rows)
    wide.write_text("a,b,c,y\n" + "".join(f"{i},{i % 7},1,{2 * i + 1}\n" for i in range(60)))
    options = ("name=fail_fit", "dataset=csv", "dataset.target=y", "model=linear", "debug=fast")
    train(*options, f"dataset.path={narrow}")
    run = store.only_run("fail_fit")
    result = train(
        *options,
        f"dataset.path={wide}",  # the data may move on resume; here its columns changed
        "trainer.max_epochs=4",
        f"trainer.resume={run.info.run_id}",
        expect_success=False,
    )
    assert "the checkpoint does not fit the model and optimizer of this config" in result.output
    assert "size mismatch for" in result.output
    assert "Traceback" not in result.output
    after = store.only_run("fail_fit")
    assert after.info.status == "FINISHED"  # a resume that never started changes nothing
    assert "does not fit" in after.data.tags["failed_resume"]
    assert "end_reason" not in after.data.tags


def test_resume_with_other_options_is_refused(train, store):
    train("name=fail_ckpt", "debug=fast")
    run = store.only_run("fail_ckpt")
    result = train(
        "name=fail_ckpt",
        "debug=fast",
        "model.hidden_sizes=[8]",
        "optimizer.lr=0.1",
        f"trainer.resume={run.info.run_id}",
        expect_success=False,
    )
    assert "was trained with other options" in result.output
    assert "model.hidden_sizes: [128, 64] in the checkpoint, [8] now" in result.output
    assert "optimizer.lr: 0.01 in the checkpoint, 0.1 now" in result.output  # mlp's default_lr
    assert "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_stop_signal_marks_the_run_killed(store, shared_data, tmp_path, stop_signal):
    name = f"killed_by_{stop_signal.name}"
    settings = [f"name={name}", "trainer.max_epochs=100000", "trainer.early_stopping.enabled=false"]
    process = start_training(
        settings, store, shared_data, tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    wait_for_checkpoint(tmp_path, process)
    process.send_signal(stop_signal)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 128 + stop_signal, output[-2000:]
    assert "MLflow run ended KILLED" in output
    run = store.only_run(name)
    assert run.info.status == "KILLED"
    assert f"stopped by signal {int(stop_signal)}" in run.data.tags["end_reason"]
