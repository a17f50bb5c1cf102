"""A report written from runs in the `mlflow.search_runs` format, without a store: its
sections, verdicts and self-contained HTML."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from ml_experiments.errors import ConfigError
from ml_experiments.reporting import reports
from tests.unit.reporting.test_statistics import run_row, search_runs_frame


def write(runs: pd.DataFrame, folder) -> str:
    source = reports.Source("a sweep", "sweep", runs, "val/rmse")
    ranking = reports.rank(source)
    reports.write_report(source, ranking, reports.Evidence(), folder)
    return (folder / "report.md").read_text()


def test_a_report_ranks_configurations_and_names_what_failed(tmp_path):
    runs = search_runs_frame()
    runs.loc[runs["status"] == "FAILED", "tags.end_reason"] = "TrainingDiverged: loss is inf. Fix"
    markdown = write(runs, tmp_path)
    assert "**optimizer.lr=0.1: val/rmse 5.5 (95% CI [4.258, 6.742], n=3)**" in markdown
    assert "`optimizer.lr=0.1` rather than `0.01`" in markdown
    assert "paired over 3 seeds): within noise (n=3)." in markdown
    assert "`optimizer.lr=1e6` did not work: all 1 of its runs failed" in markdown
    assert "| lr=1e6 seed=0 | FAILED | TrainingDiverged: loss is inf |" in markdown
    assert "keep the learning rate below the values that diverged" in markdown
    html = (tmp_path / "report.html").read_text()
    sources = re.findall(r'src="([^"]*)"', html)  # metric_vs_options: no histories needed
    assert sources and all(src.startswith("data:image/png;base64,") for src in sources)
    assert (tmp_path / "figures" / "metric_vs_options.png").is_file()


def test_one_seed_says_differences_cannot_be_judged(tmp_path):
    runs = pd.DataFrame(
        [run_row("a", "0.1", 0, "FINISHED", 5.0), run_row("b", "0.2", 0, "FINISHED", 6.0)]
    )
    markdown = write(runs, tmp_path)
    assert "(one seed)" in markdown
    assert "differences between configurations\n> cannot be judged" in markdown
    assert "(one seed): cannot be judged with a single seed." in markdown


def test_no_finished_run_is_an_error_that_says_how_they_ended(tmp_path):
    runs = pd.DataFrame([run_row("a", "1e6", 0, "FAILED", 1e15)])
    runs["tags.end_reason"] = "TrainingDiverged: val/loss became inf"
    runs["metrics.best/val/rmse"] = float("nan")
    with pytest.raises(ConfigError, match="none of the 1 runs .* TrainingDiverged: val/loss"):
        write(runs, tmp_path)


def test_the_portfolio_lists_each_report_with_its_headline(tmp_path):
    write(search_runs_frame(), tmp_path / "one")
    markdown, html = reports.write_portfolio(tmp_path)
    assert (
        "| [a sweep](one/report.md) | sweep | optimizer.lr=0.1: val/rmse 5.5"
        in markdown.read_text()
    )
    assert 'href="one/report.html"' in html.read_text()


def test_the_trivial_baseline_is_what_the_runs_computed_on_their_test_splits():
    runs = pd.DataFrame({"metrics.baseline/test/rmse": [9.0, 8.0, None]})
    found = reports.baselines("boston", "regression", None, runs, "test/rmse")
    assert found["trivial"] == (
        "always predicting the training mean: test/rmse 8.5 (mean of 2 runs' test splits)"
    )
    # Runs from before baselines were logged: what their class counts imply.
    older = reports.baselines(
        "liar", "classification", {"a": 3, "b": 1}, pd.DataFrame(), "test/acc"
    )
    assert older["trivial"].startswith("always predicting the majority class (a): test/acc 0.75")


def variant_runs() -> pd.DataFrame:
    """A recipe and two variants of it, three seeds each, as a sweep over experiments
    logs them: each variant's own keys differ from the recipe's (batch norm, widths)."""
    accuracy = {"cnn": [0.90, 0.91, 0.92], "cnn_no_bn": [0.80, 0.81, 0.83],
                "cnn_small": [0.905, 0.915, 0.92]}  # fmt: skip
    keys = {"cnn": ("true", "[16, 32]"), "cnn_no_bn": ("false", "[16, 32]"),
            "cnn_small": ("true", "[8, 16]")}  # fmt: skip
    rows = []
    for experiment, scores in accuracy.items():
        for seed, score in enumerate(scores):
            rows.append(
                {
                    "run_id": f"{experiment}-{seed}",
                    "status": "FINISHED",
                    "start_time": pd.Timestamp("2026-01-01", tz="UTC"),
                    "end_time": pd.Timestamp("2026-01-01 00:01", tz="UTC"),
                    "tags.mlflow.runName": f"experiment={experiment} seed={seed}",
                    "tags.experiment": experiment,
                    "tags.model": "deep_cnn",
                    "params.model.batch_norm": keys[experiment][0],
                    "params.model.channels": keys[experiment][1],
                    "params.seed": str(seed),
                    "metrics.best/val/acc": score,
                }
            )
    return pd.DataFrame(rows)


def test_a_sweep_over_a_recipe_and_its_variants_compares_each_variant_with_the_recipe(
    tmp_path,
):
    runs = variant_runs()
    source = reports.Source("variants", "sweep", runs, "val/acc")
    ranking = reports.rank(source)
    # What comes with each experiment's recipe is not an option of its own.
    assert ranking.keys == ["experiment"]
    assert ranking.table["configuration"].tolist() == [
        "experiment=cnn_small",
        "experiment=cnn",
        "experiment=cnn_no_bn",
    ]
    reports.write_report(source, ranking, reports.Evidence(), tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    assert "`experiment=cnn_no_bn` rather than `cnn`: val/acc 0.8133 vs 0.91" in markdown
    assert "paired over 3 seeds): worse." in markdown
    assert "`experiment=cnn_small` rather than `cnn`: val/acc 0.9133 vs 0.91" in markdown
    assert "within noise (n=3)" in markdown
    assert "model.channels" not in markdown.split("## Results")[1]


def test_an_option_swept_within_each_experiment_stays_an_option():
    runs = pd.concat(
        [variant_runs().assign(**{"params.optimizer.lr": lr}) for lr in ("0.1", "0.01")]
    )
    runs["run_id"] = runs["run_id"] + "-" + runs["params.optimizer.lr"]
    ranking = reports.rank(reports.Source("variants", "sweep", runs, "val/acc"))
    assert ranking.keys == ["experiment", "optimizer.lr"]


def test_a_scikit_learn_model_is_described_by_its_own_options_not_an_optimizer():
    run = pd.Series(
        {
            "tags.model": "nbsvm",
            "tags.optimizer": "adam",  # logged by every run, ignored by scikit-learn's fit
            "params.optimizer.lr": "0.001",
            "params.trainer.max_epochs": "20",
            "params.model._target_": "ml_experiments.models.text.text_classifier",
            "params.model.vectorizer": "naive_bayes",
            "params.model.ngram_max": "3",
            "params.model.max_features": "None",
            "params.model.C": "1.0",
        }
    )
    settings = dict(reports.approach(run, [])["settings"])
    assert settings == {
        "model": "nbsvm",
        "fitted by": "scikit-learn",
        "features": "naive_bayes",
        "largest n-gram": "3",
        "C (inverse regularization)": "1.0",
    }
    torch_run = run.drop("params.model._target_")
    assert dict(reports.approach(torch_run, [])["settings"])["learning rate"] == "0.001"


def test_a_model_of_fields_is_described_by_the_fields_it_reads():
    run = pd.Series(
        {
            "tags.model": "fields_logreg",
            "tags.optimizer": "adam",
            "params.model._target_": "ml_experiments.models.fields.fields_classifier",
            "params.model.text_field": "statement",
            "params.model.categories": "['speaker', 'party']",
            "params.model.field_weight": "0.7",
            "params.model.C": "0.25",
        }
    )
    settings = dict(reports.approach(run, [])["settings"])
    assert "optimizer" not in settings
    assert settings["categories, one-hot"] == "['speaker', 'party']"
    assert settings["weight of each field beside the text"] == "0.7"


def test_runs_that_the_seed_does_not_change_are_not_called_an_improvement(tmp_path):
    """Two scikit-learn fits on a fixed split: each seed gives the same value, so the
    paired interval has no width, which is no evidence about noise."""
    rows = [
        run_row(f"{name}{seed}", lr, seed, "FINISHED", value)
        for name, lr, value in (("a", "0.1", 5.0), ("b", "0.2", 6.0))
        for seed in (0, 1, 2)
    ]
    runs = pd.DataFrame(rows)
    runs["params.model._target_"] = "ml_experiments.models.text.text_classifier"
    runs["params.model.C_chosen"] = [1.0, 10.0, 1.0, 10.0, 1.0, 10.0]  # an outcome, per run
    markdown = write(runs, tmp_path)
    assert "6 runs in 2 configurations" in markdown
    assert "the seeds changed nothing, so they cannot tell noise from effect" in markdown
    assert "an improvement" not in markdown
    assert "Early stopping" not in markdown  # a scikit-learn fit has no epochs


def test_a_single_epoch_is_not_called_still_improving():
    runs = pd.DataFrame(
        [run_row("one", "0.1", 0, "FINISHED", 5.0), run_row("three", "0.1", 1, "FINISHED", 5.0)]
    )
    runs["params.trainer.max_epochs"] = ["1", "3"]
    runs["metrics.best_epoch"] = [1.0, 3.0]
    histories = {"one": {"val/loss": [2.0]}, "three": {"val/loss": [3.0, 2.5, 2.0]}}
    facts = reports.training(runs, reports.Evidence(histories=histories), "three")
    assert facts.improving == ["lr=0.1 seed=1"]
    notes = reports.training_notes(facts)
    assert "1 of 2 runs trained a single epoch" in " ".join(notes)
    assert "1 of 2 runs (lr=0.1 seed=1)" in " ".join(notes)
