"""End to end through `python -m ml_experiments.train` into a temporary SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ml_experiments.engine import checkpoint


def artifact_paths(store, run_id: str, folder: str | None = None) -> list[str]:
    return [item.path for item in store.client().list_artifacts(run_id, folder)]


def test_default_run_trains_evaluates_and_logs_everything(train, store, tmp_path):
    result = train("name=e2e_default", "trainer.max_epochs=6", "logger.system_metrics=true")
    assert "epochs:" not in result.output  # no progress bar when output is not a terminal
    run = store.only_run("e2e_default")
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "e2e_default: mlp on digits"
    params = run.data.params
    assert params["model.hidden_sizes"] == "[128, 64]"
    assert params["trainer.max_epochs"] == "6"
    assert params["data/task"] == "classification" and params["data/num_classes"] == "10"
    assert run.data.tags["dataset"] == "digits" and run.data.tags["model"] == "mlp"
    assert "trainer.max_epochs=6" in run.data.tags["overrides"]
    assert run.data.tags["git_commit"]

    history = store.client().get_metric_history(run.info.run_id, "val/acc")
    assert [point.step for point in history] == [1, 2, 3, 4, 5, 6]
    assert run.data.metrics["test/acc"] > 0.85  # digits: an MLP gets ~97% in 20 epochs
    # Ten balanced classes: the majority-class baseline is right about one time in ten.
    assert 0.09 < run.data.metrics["baseline/test/acc"] < 0.12
    # Six epochs of the default twenty: the loss still falls fast, and the run says so.
    assert run.data.tags["warning"] == "still_improving"
    assert "system/cpu_utilization_percentage" in run.data.metrics  # sampled every 2 s
    # The splits are the run's datasets, and the model's page shows its test metrics.
    inputs = {
        item.dataset.name: [tag.value for tag in item.tags] for item in run.inputs.dataset_inputs
    }
    assert inputs == {"digits/train": ["training"], "digits/val": ["validation"],
                      "digits/test": ["testing"]}  # fmt: skip
    model = store.client().get_logged_model(run.outputs.model_outputs[0].model_id)
    linked = {metric.key: metric.dataset_name for metric in model.metrics}
    assert linked["test/acc"] == "digits/test"
    assert {metric.key: metric.value for metric in model.metrics}["test/acc"] == (
        run.data.metrics["test/acc"]
    )

    assert set(artifact_paths(store, run.info.run_id)) >= {
        "config",
        "figures",
        "logs",
        "checkpoints",
    }
    figures = artifact_paths(store, run.info.run_id, "figures")
    assert figures == [
        "figures/confusion_matrix.png",
        "figures/learning_curves.png",
        "figures/per_class_accuracy.png",
    ]
    assert "config/config_resolved.yaml" in artifact_paths(store, run.info.run_id, "config")
    assert "config/hydra/overrides.yaml" in artifact_paths(store, run.info.run_id, "config/hydra")
    assert artifact_paths(store, run.info.run_id, "logs") == ["logs/train.log"]
    report = store.client().download_artifacts(
        run.info.run_id, "reports/classification_report.json", str(tmp_path)
    )
    per_class = json.loads(Path(report).read_text())
    supports = [per_class[str(digit)]["support"] for digit in range(10)]
    assert sum(supports) == int(params["data/test_rows"]) and min(supports) > 20  # stratified
    assert per_class["accuracy"] == pytest.approx(run.data.metrics["test/acc"])

    import mlflow

    mlflow.set_tracking_uri(store.uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    answers = model.predict(model.input_example)  # the file's pixel columns, 0-16
    assert list(answers.columns) == ["prediction", *(f"probability_{digit}" for digit in range(10))]


def test_a_run_no_better_than_the_majority_class_warns_and_is_tagged(train, store, tmp_path):
    """Four rows in five are `yes` and the features are noise: a model barely trained
    (one epoch at a tiny learning rate) cannot beat always answering `yes`."""
    generator = np.random.default_rng(0)
    rows = [f"{a:.3f},{b:.3f},{'yes' if generator.random() < 0.8 else 'no'}"
            for a, b in generator.normal(size=(200, 2))]  # fmt: skip
    table = tmp_path / "noise.csv"
    table.write_text("a,b,answer\n" + "\n".join(rows) + "\n")
    result = train("name=e2e_no_better", "dataset=csv", f"dataset.path={table}",
                   "dataset.target=answer", "dataset.task=classification", "optimizer.lr=1e-6",
                   "trainer.max_epochs=1",
                   "logger.log_model=false")  # fmt: skip
    run = store.only_run("e2e_no_better")
    assert run.info.status == "FINISHED"
    assert run.data.tags["warning"] == "worse_than_baseline"
    metrics = run.data.metrics
    assert metrics["test/acc"] <= metrics["baseline/test/acc"]
    assert 0.6 < metrics["baseline/test/acc"] < 0.95  # the share of `yes` in the test split
    last_lines = result.output.strip().splitlines()[-3:]
    assert any("is no better than predicting the majority class" in line for line in last_lines)


def test_boston_linear_logs_regression_metrics_and_figures(train, store):
    train("experiment=boston_linear", "name=e2e_boston")
    run = store.only_run("e2e_boston")
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "e2e_boston: linear on boston"
    params = run.data.params
    assert params["dataset.name"] == "boston" and params["optimizer.lr"] == "0.05"
    assert params["data/task"] == "regression" and params["data/input_shape"] == "[13]"
    assert run.data.tags["dataset"] == "boston" and run.data.tags["model"] == "linear"
    for key in ("test/rmse", "test/mae", "test/r2", "val/rmse"):
        assert key in run.data.metrics
    assert 0.5 < run.data.metrics["test/r2"] < 1.0
    # Early stopping: one point per epoch, up to the best epoch and its patience.
    history = store.client().get_metric_history(run.info.run_id, "val/rmse")
    best_epoch = int(run.data.metrics["best_epoch"])
    epochs = [point.step for point in history]
    assert epochs == list(range(1, len(epochs) + 1))
    assert best_epoch < len(epochs) <= min(best_epoch + 50, 500)
    assert run.data.metrics["best/val/rmse"] == pytest.approx(history[best_epoch - 1].value)
    assert artifact_paths(store, run.info.run_id, "figures") == [
        "figures/learning_curves.png",
        "figures/predicted_vs_actual.png",
        "figures/residuals.png",
    ]
    assert artifact_paths(store, run.info.run_id, "checkpoints") == ["checkpoints/best.pt"]

    import mlflow

    mlflow.set_tracking_uri(store.uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    prices = model.predict(model.input_example)["prediction"]
    assert len(prices) == 3 and 5 < prices.mean() < 60  # thousands of dollars, not standardized


@pytest.mark.slow
def test_gradient_descent_matches_closed_form_least_squares_on_real_boston(train, store):
    """Stage 1's point: the hand-written loop finds the least-squares solution. Without
    early stopping its last epoch matches the closed form (metrics logged per epoch keep
    the last epoch's value; the test split is scored at the best epoch)."""
    options = ("experiment=boston_linear", "name=e2e_parity", "logger.log_model=false")
    train(*options, "trainer.early_stopping.enabled=false", "trainer.max_epochs=150")
    train(*options, "model=sklearn_linear")
    by_model = {run.data.tags["model"]: run.data.metrics for run in store.runs("e2e_parity")}
    for metric in ("train/loss", "val/rmse"):
        descent, closed_form = by_model["linear"][metric], by_model["sklearn_linear"][metric]
        assert abs(descent - closed_form) / closed_form < 0.001, (metric, descent, closed_form)


def test_sklearn_path_logs_the_same_metrics_and_a_model(train, store):
    train("model=sklearn_linear", "name=e2e_sklearn")
    run = store.only_run("e2e_sklearn")
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test/acc"] > 0.9
    assert {"val/loss", "val/acc", "val/f1_macro", "test/f1_macro"} <= set(run.data.metrics)

    import mlflow

    mlflow.set_tracking_uri(store.uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert set(model.predict(model.input_example)["prediction"]) <= set("0123456789")


def test_same_seed_gives_identical_metrics(train, store):
    for _ in range(2):
        train("name=e2e_repro", "debug=fast", "trainer.limit_train_batches=null", "seed=7")
    first, second = (run.data.metrics for run in store.runs("e2e_repro"))
    for key in ("val/loss", "val/acc", "test/loss", "test/acc", "train/loss"):
        assert first[key] == second[key], key


def test_different_seeds_give_different_splits_and_weights(train, store):
    for seed in (1, 2):
        train("name=e2e_seeds", "debug=fast", f"seed={seed}")
    first, second = (run.data.metrics for run in store.runs("e2e_seeds"))
    assert first["test/loss"] != second["test/loss"]


def test_checkpoints_are_plain_and_load_with_weights_only(train, store, tmp_path):
    result = train("name=e2e_ckpt", "debug=fast", "trainer.progress_bar=true")
    assert "epochs: 100%" in result.output
    run = store.only_run("e2e_ckpt")
    folder = run.data.tags["checkpoint_dir"]
    state = torch.load(f"{folder}/{checkpoint.LAST}", weights_only=True)
    assert state["epoch"] == 2 and state["run_id"] == run.info.run_id
    assert state["config"]["name"] == "e2e_ckpt"
    assert not list(tmp_path.rglob("*.tmp")), "a temporary checkpoint file was left behind"


def test_accuracy_monitor_keeps_the_most_accurate_epoch(train, store):
    train(
        "name=e2e_monitor",
        "trainer.monitor=val/acc",
        "trainer.max_epochs=5",
        "logger.log_model=false",
        "optimizer.lr=0.01",
    )
    run = store.only_run("e2e_monitor")
    history = store.client().get_metric_history(run.info.run_id, "val/acc")
    best = max(history, key=lambda point: (point.value, -point.step))
    assert run.data.metrics["best_epoch"] == best.step


def test_batch_norm_survives_a_last_batch_of_one(train, store):
    # 1,257 training rows in batches of 8 leave one row for the last batch.
    train(
        "name=e2e_lone",
        "model.batch_norm=true",
        "trainer.batch_size=8",
        "trainer.max_epochs=1",
        "logger.log_model=false",
    )
    assert store.only_run("e2e_lone").info.status == "FINISHED"


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle", "step"])
def test_schedulers_change_the_logged_learning_rate(train, store, scheduler):
    name = f"e2e_sched_{scheduler}"
    extra = ["scheduler.step_size=1"] if scheduler == "step" else []
    train(
        f"name={name}",
        f"scheduler={scheduler}",
        "trainer.max_epochs=3",
        *extra,
        "logger.log_model=false",
    )
    run = store.only_run(name)
    rates = [
        point.value for point in store.client().get_metric_history(run.info.run_id, "train/lr")
    ]
    assert len(rates) == 3 and len(set(rates)) == 3, rates


def test_runs_started_together_on_a_new_store_both_finish(shared_data, tmp_path):
    """Two runs that create the same new SQLite store at once: one creates its tables, the
    other waits for it instead of crashing on "table already exists"."""
    import subprocess

    from tests.helpers.running import Store, start_training

    store = Store(f"sqlite:///{tmp_path}/new.db", tmp_path)
    runs = [
        start_training(
            ["debug=fast", "name=together"],
            store,
            shared_data,
            tmp_path / str(index),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for index in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert [r.info.status for r in store.runs("together")] == ["FINISHED", "FINISHED"]
