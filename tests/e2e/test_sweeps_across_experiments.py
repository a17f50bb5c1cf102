"""A sweep over experiments on different data sets: one parent run and one sweep folder
for all jobs, each job ranked by its own experiment's metric, failures explained, and an
override that only some experiments have refused before any job."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.running import Store, run_module, sweep_runs

SWEEP = [
    "-m",
    "experiment=mnist_cnn,boston_linear",
    # A key of the optimizer group: Hydra's first composition checks it against the
    # default config's optimizer, each job against its own experiment's.
    "optimizer.weight_decay=0",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=20",
    "logger.log_model=false",
    "logger.log_figures=false",
]


@pytest.fixture(scope="module")
def own_store(tmp_path_factory) -> Store:
    """A store of its own: sweeps over experiments share the MLflow experiment 'sweeps'."""
    folder = tmp_path_factory.mktemp("across_experiments")
    return Store(f"sqlite:///{folder}/mlflow.db", folder)


def test_jobs_of_different_experiments_nest_under_one_parent_ranked_by_their_metric(
    own_store, shared_data, tmp_path
):
    result = run_module("train", SWEEP, own_store, shared_data, tmp_path)
    runs = own_store.runs("sweeps")
    parent = next(run for run in runs if "sweep_dir" in run.data.tags)
    children = [run for run in runs if run is not parent]
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert sorted(run.data.tags["experiment"] for run in children) == ["boston_linear", "mnist_cnn"]
    assert all(run.info.status == "FINISHED" for run in children)
    # One sweep folder holds every job, whatever each job's name.
    sweep_dir = parent.data.tags["sweep_dir"]
    assert {run.data.tags["output_dir"].rsplit("/", 1)[0] for run in children} == {sweep_dir}
    assert "val/acc" in parent.data.tags["summary_note"]
    assert "val/rmse" in parent.data.tags["summary_note"]
    assert {"best/val/acc", "best/val/rmse"} <= set(parent.data.metrics)
    client = own_store.client()
    folders = {item.path for item in client.list_artifacts(parent.info.run_id, "summary")}
    assert folders == {"summary/boston_linear", "summary/mnist_cnn"}
    assert "each is ranked within its own experiment" in result.output


def test_an_override_that_some_experiments_lack_stops_the_sweep_before_any_job(
    own_store, shared_data, tmp_path
):
    overrides = ["-m", "experiment=mnist_cnn,boston_linear", "dataset.test_subset=200"]
    result = run_module("train", overrides, own_store, shared_data, tmp_path, expect_success=False)
    assert result.returncode == 1
    assert "experiment=boston_linear has no dataset.test_subset" in result.output
    assert "Launching" not in result.output
    assert not list((tmp_path / "outputs").glob("multiruns/*/[0-9]*"))  # no job folder


def test_each_job_that_did_not_finish_is_explained_on_the_console_and_the_parent(grid_sweep, store):
    result, _ = grid_sweep
    parent, children = sweep_runs(store, "grid_sweep")
    failed = [run for run in children if run.info.status == "FAILED"]
    assert failed
    for run in failed:
        line = f"not finished - {run.info.run_name}: FAILED, TrainingDiverged"
        assert line in result.output
    text = store.client().download_artifacts(parent.info.run_id, "summary/failures.md")
    listed = Path(text).read_text()
    assert all(f"{run.info.run_name}: FAILED, TrainingDiverged" in listed for run in failed)
