"""The runs a report is written from, read from MLflow, and the report logged back.

`reporting.reports` turns what this returns into a report; it never sees MLflow.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ml_experiments.errors import ConfigError
from ml_experiments.reporting.reports import Evidence
from ml_experiments.tracking import store

# The histories a report draws: losses, the learning rate, and the ranking metric.
HISTORY_KEYS = ("train/loss", "val/loss", "train/lr")
REPORT_FOLDER = "report"  # where a report goes among its run's artifacts
CLASSIFICATION_REPORT = "reports/classification_report.json"  # see reporting/run_report.py


@dataclass
class Selection:
    """The runs to report on, what to call them, and which run (if any) receives the report."""

    title: str
    name: str  # the report's folder name, before it is made safe
    runs: pd.DataFrame  # as mlflow.search_runs returns them
    log_to: str | None
    default_metric: str | None
    sweep_command: str | None = None  # the multirun that made a sweep, from its parent's tags


def sweep_selection(client, parent_id: str, tracking_uri: str) -> Selection:
    parent = store.parent_run(client, parent_id, tracking_uri)
    runs = store.child_runs(parent.info.run_id, parent.info.experiment_id)
    if runs.empty:
        raise ConfigError(
            f"run {parent_id} has no child runs, so it is no sweep's parent. Report one run "
            f"with run={parent_id}, or every run of its experiment with experiment=<name>."
        )
    # A sweep across experiments keeps its parent in a shared experiment, and its tag
    # holds the default config's metric: the jobs' own name and metric say more.
    name = _shared(runs, "params.name") or client.get_experiment(parent.info.experiment_id).name
    return Selection(
        title=parent.info.run_name,
        name=f"{name}_sweep_{parent_id[:8]}",
        runs=runs,
        log_to=parent_id,
        default_metric=_shared(runs, "params.optimized_metric")
        or parent.data.tags.get("optimized_metric"),
        sweep_command=parent.data.tags.get("overrides"),
    )


def experiment_selection(client, name: str, tracking_uri: str, max_runs: int) -> Selection:
    import mlflow

    experiment = store.experiment_named(client, name, tracking_uri)
    runs = mlflow.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string="tags.sweep_dir IS NULL",  # sweep parents hold no metrics of their own
        max_results=max_runs,
    )
    if runs.empty:
        raise ConfigError(f"the experiment {name!r} has no runs to report. Train some first.")
    return Selection(name, name, runs, None, _most_common(runs, "params.optimized_metric"))


def run_selection(client, run_id: str, tracking_uri: str) -> Selection:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        names = sorted(experiment.name for experiment in client.search_experiments())
        raise ConfigError(
            f"no MLflow run with id {run_id} in {store.without_credentials(tracking_uri)}. "
            f"Experiments in the store: {', '.join(names) or 'none'}; copy a run id from "
            "the MLflow UI or a run's log."
        ) from error
    runs = mlflow.search_runs(
        experiment_ids=[run.info.experiment_id], filter_string=f"attributes.run_id = '{run_id}'"
    )
    name = f"{client.get_experiment(run.info.experiment_id).name}_run_{run_id[:8]}"
    return Selection(run.info.run_name, name, runs, run_id, run.data.params.get("optimized_metric"))


def evidence_for(client, run_ids: list[str], best_run_id: str, metric: str) -> Evidence:
    """The metric histories of `run_ids`; the best run's confusion matrix and class counts."""
    keys = [*HISTORY_KEYS, metric]
    evidence = Evidence(histories={run_id: _histories(client, run_id, keys) for run_id in run_ids})
    with tempfile.TemporaryDirectory() as scratch:
        figure = _artifact(client, best_run_id, "figures/confusion_matrix.png", Path(scratch))
        evidence.confusion_matrix = figure.read_bytes() if figure else None
        report = _artifact(client, best_run_id, CLASSIFICATION_REPORT, Path(scratch))
        if report is not None:
            evidence.class_support = _class_support(json.loads(report.read_text()))
    return evidence


def log_report(client, run_id: str, folder: Path) -> None:
    """The written report (Markdown, HTML, figures) as artifacts of `run_id`."""
    client.log_artifacts(run_id, str(folder), REPORT_FOLDER)


def _histories(client, run_id: str, keys: list[str]) -> dict[str, list[float]]:
    """Each key's values by step (epoch), for the keys the run logged."""
    histories = {}
    for key in keys:
        points = sorted(client.get_metric_history(run_id, key), key=lambda point: point.step)
        if points:
            histories[key] = [point.value for point in points]
    return histories


def _artifact(client, run_id: str, path: str, scratch: Path) -> Path | None:
    """The run's artifact at `path`, downloaded into `scratch`; None when it has none."""
    folder = path.rpartition("/")[0]
    if path not in {item.path for item in client.list_artifacts(run_id, folder or None)}:
        return None
    return Path(client.download_artifacts(run_id, path, str(scratch)))


def _class_support(report: dict) -> dict[str, int]:
    """Rows per class from scikit-learn's classification report (its non-class keys dropped)."""
    summaries = {"accuracy", "macro avg", "weighted avg", "micro avg"}
    return {name: int(row["support"]) for name, row in report.items() if name not in summaries}


def _shared(runs: pd.DataFrame, column: str) -> str | None:
    """The value every run holds in `column`, or None when they differ or lack it."""
    if column not in runs or runs[column].isna().any() or runs[column].nunique() != 1:
        return None
    return runs[column].iloc[0]


def _most_common(runs: pd.DataFrame, column: str) -> str | None:
    if column not in runs or runs[column].dropna().empty:
        return None
    return runs[column].mode().iloc[0]
