"""RunLogger against a real SQLite store: a report, written in one go, lands where its
files always did."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest

from ml_experiments.reporting import viz
from ml_experiments.reporting.run_report import RunReport
from ml_experiments.tracking.logger import RunLogger
from ml_experiments.tracking.store import experiment_id_for, prepare_store


@pytest.fixture
def run_logger(store, tmp_path, request):
    """A RunLogger on an active run of its own experiment, artifacts under tmp_path."""
    prepare_store(store.uri)
    experiment_id = experiment_id_for(f"logger_{request.node.name}", tmp_path.as_uri())
    run = mlflow.start_run(experiment_id=experiment_id)
    yield RunLogger(run.info.run_id)
    mlflow.end_run()


def test_a_report_is_written_with_its_files_where_they_always_were(run_logger):
    figure = viz.per_class_accuracy(np.array([[3, 1], [0, 4]]), ["cat", "dog"])
    report = RunReport(
        figures={"per_class_accuracy": figure},
        texts={"reports/classification_report.txt": "precision recall\n"},
        tables={"reports/classification_report.json": {"cat": {"precision": 1.0}}},
        metrics={"test/roc_auc": 0.75},
    )
    run_logger.log_report(report, step=3)
    run_logger.log_dict({"name": "digits"}, "dataset_meta.json")

    root = Path(mlflow.get_run(run_logger.run_id).info.artifact_uri.removeprefix("file://"))
    files = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
    assert files == {
        "figures/per_class_accuracy.png",
        "reports/classification_report.txt",
        "reports/classification_report.json",
        "dataset_meta.json",
    }
    table = (root / "reports" / "classification_report.json").read_text()
    assert json.loads(table) == {"cat": {"precision": 1.0}}
    assert (root / "dataset_meta.json").read_text() == json.dumps({"name": "digits"}, indent=2)
    assert mlflow.get_run(run_logger.run_id).data.metrics["test/roc_auc"] == 0.75
