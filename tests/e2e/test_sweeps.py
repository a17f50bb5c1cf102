"""Multiruns through the real entry point: a parent run per sweep with nested, named
children and a summary; Optuna with a failing trial; parallel jobs that lose no run;
the compare command; the SLURM launcher config."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import optuna
import pytest
import yaml

from tests.helpers.running import (
    DIVERGING_LR,
    PROJECT_ROOT,
    Store,
    artifact_paths,
    run_module,
    sweep_runs,
)


def test_a_grid_sweep_nests_named_children_under_one_parent(grid_sweep, store):
    parent, children = sweep_runs(store, "grid_sweep")
    assert len(children) == 4
    names = [child.info.run_name for child in children]
    assert names == [
        "#0 optimizer.lr=0.01 optimizer.momentum=0.0 (grid_sweep: linear on boston)",
        "#1 optimizer.lr=0.01 optimizer.momentum=0.9 (grid_sweep: linear on boston)",
        f"#2 optimizer.lr={DIVERGING_LR} optimizer.momentum=0.0 (grid_sweep: linear on boston)",
        f"#3 optimizer.lr={DIVERGING_LR} optimizer.momentum=0.9 (grid_sweep: linear on boston)",
    ]
    assert parent.info.run_name == (
        f"grid_sweep sweep: optimizer.lr=0.01,{DIVERGING_LR} optimizer.momentum=0.0,0.9"
    )
    assert parent.data.tags["swept_keys"] == "optimizer.lr optimizer.momentum"
    # Each child has its own params, as a single run would.
    assert [child.data.params["optimizer.momentum"] for child in children] == ["0.0", "0.9"] * 2


def test_a_diverging_job_fails_alone_and_the_sweep_goes_on(grid_sweep, store):
    parent, children = sweep_runs(store, "grid_sweep")
    assert [child.info.status for child in children] == ["FINISHED"] * 2 + ["FAILED"] * 2
    assert all("TrainingDiverged" in child.data.tags["end_reason"] for child in children[2:])
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["jobs_finished"] == 2
    assert parent.data.metrics["jobs_not_finished"] == 2


def test_the_parent_run_holds_the_best_child_and_a_leaderboard(grid_sweep, store):
    parent, children = sweep_runs(store, "grid_sweep")
    finished = [child for child in children if child.info.status == "FINISHED"]
    best = min(finished, key=lambda child: child.data.metrics["best/val/rmse"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    # The leaderboard leaves out what every child's name shares.
    assert best.info.run_name == f"{parent.data.tags['best_run']} (grid_sweep: linear on boston)"
    assert math.isclose(parent.data.metrics["best/val/rmse"], best.data.metrics["best/val/rmse"])
    assert artifact_paths(store, parent.info.run_id, "summary") == {
        "summary/leaderboard.csv",
        "summary/leaderboard.md",
        "summary/metric_vs_params.png",
        "summary/parallel_coordinates.png",
        "summary/failures.md",  # two of the jobs diverge
    }


def test_the_objective_is_the_best_epoch_value_logged_under_best(grid_sweep, store):
    _, children = sweep_runs(store, "grid_sweep")
    client = store.client()
    for child in children[:2]:
        history = client.get_metric_history(child.info.run_id, "val/rmse")
        best_epoch = int(child.data.metrics["best_epoch"])
        at_best = next(metric.value for metric in history if metric.step == best_epoch)
        assert child.data.metrics["best/val/rmse"] == at_best
        assert at_best == min(metric.value for metric in history)  # monitor is val/loss


def test_compare_ranks_a_sweeps_children_and_logs_to_the_parent(grid_sweep, store, shared_data):
    _, outputs = grid_sweep
    parent, children = sweep_runs(store, "grid_sweep")
    result = run_module(
        "compare", [f"parent={parent.info.run_id}"], store, shared_data, outputs / "compare"
    )
    assert "4 runs ranked by val/rmse (lower is better)" in result.output
    saved = sorted((outputs / "compare" / "outputs" / "compare").glob("*/leaderboard.csv"))
    with saved[-1].open() as file:
        rows = list(csv.DictReader(file))
    expected = sorted(
        (child for child in children if child.info.status == "FINISHED"),
        key=lambda child: child.data.metrics["best/val/rmse"],
    )
    assert [row["run_id"] for row in rows[:2]] == [child.info.run_id for child in expected]
    assert [row["status"] for row in rows[2:]] == ["FAILED", "FAILED"]
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4"]
    shared_part = " (grid_sweep: linear on boston)"
    assert rows[0]["run"] == expected[0].info.run_name.removesuffix(shared_part)
    # Only the params that differ, never the ones all runs share.
    assert {"optimizer.lr", "optimizer.momentum"} <= set(rows[0])
    assert "optimizer.nesterov" not in rows[0] and "seed" not in rows[0]
    assert rows[0]["test/rmse"]


def test_compare_an_experiment_on_another_metric(grid_sweep, store, shared_data):
    _, outputs = grid_sweep
    result = run_module(
        "compare",
        ["experiment=grid_sweep", "metric=val/r2", "top=1"],
        store,
        shared_data,
        outputs / "compare_r2",
    )
    assert "4 runs ranked by val/r2 (higher is better)" in result.output
    printed = result.output.split("(higher is better)")[1].split("saved")[0]
    assert printed.count("FINISHED") + printed.count("FAILED") == 1  # top=1
    assert max(map(len, printed.splitlines())) <= 100  # long columns wrap, long cells are cut
    markdown = next((outputs / "compare_r2" / "outputs" / "compare").glob("*/leaderboard.md"))
    lines = markdown.read_text().splitlines()
    assert lines[0].startswith("| rank | run | run_id | status | val/r2 | test/r2 |")
    assert len(lines) == 2 + 4


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["experiment=no_such_experiment"], "no MLflow experiment named 'no_such_experiment'"),
        (["experiment=grid_sweep", "metric=val/nope"], "no run logged the metric 'val/nope'"),
        (["experiment=grid_sweep", "metric=best_epoch"], "cannot tell whether a higher or lower"),
        (["experment=grid_sweep"], "Key 'experment' not in 'CompareOptions'"),
        ([], "name what to compare: experiment=<name> or parent=<sweep run id>"),
    ],
)
def test_compare_says_what_is_wrong(grid_sweep, store, shared_data, tmp_path, arguments, message):
    result = run_module("compare", arguments, store, shared_data, tmp_path, expect_success=False)
    assert result.returncode == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_optuna_records_a_failing_trial_and_finishes_the_study(store, shared_data, tmp_path):
    result = run_module(
        "train",
        [
            "-m",
            "experiment=boston_linear",
            "hparams_search=boston_optuna",
            "name=optuna_sweep",
            "hydra.sweeper.n_trials=5",
            f"optimizer.lr=choice(0.01,{DIVERGING_LR})",
            "trainer.max_epochs=5",
            "logger.log_model=false",
            "logger.log_figures=false",
        ],
        store,
        shared_data,
        tmp_path,
    )
    parent, children = sweep_runs(store, "optuna_sweep")
    assert len(children) == 5
    diverging = [child for child in children if float(child.data.params["optimizer.lr"]) > 1]
    assert diverging, "the seeded sampler should try the diverging learning rate"
    assert {child.info.status for child in diverging} == {"FAILED"}
    assert {child.info.status for child in children if child not in diverging} == {"FINISHED"}
    assert parent.info.run_name.startswith("optuna_sweep optuna: 5 trials over optimizer.lr")
    assert parent.data.tags["sweeper"] == "OptunaSweeper"
    assert parent.data.tags["optuna_study"] == "optuna_sweep"
    assert parent.data.tags["optuna_storage"] == f"sqlite:///{tmp_path}/outputs/optuna.db"
    assert parent.info.status == "FINISHED"
    # Optuna's own results, logged to the parent, agree with the best child.
    results_file = next((tmp_path / "outputs" / "multiruns").glob("*/optimization_results.yaml"))
    optuna_best = yaml.safe_load(results_file.read_text())["best_value"]
    assert math.isclose(optuna_best, parent.data.metrics["best/val/rmse"])
    assert artifact_paths(store, parent.info.run_id, "optuna") == {
        "optuna/optimization_results.yaml"
    }
    assert "failed trial" in result.output  # the sweeper's own record of the failure
    study = optuna.load_study(
        study_name="optuna_sweep", storage=f"sqlite:///{tmp_path}/outputs/optuna.db"
    )
    states = sorted(trial.state.name for trial in study.trials)
    assert states == sorted(["FAIL"] * len(diverging) + ["COMPLETE"] * (5 - len(diverging)))


def test_a_sweep_where_every_job_fails_says_so_and_fails_its_parent(store, shared_data, tmp_path):
    result = run_module(
        "train",
        [
            "-m",
            "experiment=boston_linear",
            "name=all_fail_sweep",
            f"optimizer.lr={DIVERGING_LR},{DIVERGING_LR * 10}",
            "trainer.max_epochs=3",
            "logger.log_model=false",
        ],
        store,
        shared_data,
        tmp_path,
        expect_success=False,
    )
    assert result.returncode == 1
    assert "error: no job of the sweep finished" in result.output
    parent, children = sweep_runs(store, "all_fail_sweep")
    assert [child.info.status for child in children] == ["FAILED", "FAILED"]
    assert parent.info.status == "FAILED"
    assert parent.data.tags["end_reason"] == "no job finished"
    assert parent.data.metrics["jobs_not_finished"] == 2
    assert "best_run_id" not in parent.data.tags


@pytest.mark.slow
def test_parallel_jobs_on_a_fresh_store_lose_no_run(shared_data, tmp_path):
    fresh = Store(f"sqlite:///{tmp_path}/fresh/mlflow.db", tmp_path / "fresh")  # not migrated
    run_module(
        "train",
        [
            "-m",
            "experiment=boston_linear",
            "optimizer.lr=0.01,0.03,0.1,0.3",
            "seed=1,2",
            "trainer.max_epochs=5",
            "logger.log_model=false",
            "logger.log_figures=false",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
        ],
        fresh,
        shared_data,
        tmp_path,
        timeout=600,
    )
    parent, children = sweep_runs(fresh, "boston_linear")
    assert len(children) == 8
    assert [child.info.status for child in children] == ["FINISHED"] * 8
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["launcher"] == "JoblibLauncher"
    # The two workers really ran side by side.
    spans = sorted((child.info.start_time, child.info.end_time) for child in children)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def test_the_slurm_launcher_config_composes_without_slurm():
    completed = subprocess.run(
        [sys.executable, "-m", "ml_experiments.train", "--cfg", "hydra", "hydra/launcher=slurm"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    launcher = yaml.safe_load(completed.stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert launcher["submitit_folder"] == "${hydra.sweep.dir}/.submitit/%j"
    assert launcher["gpus_per_node"] == 1
