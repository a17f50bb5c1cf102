"""A run's report is plain data: which figures, tables and metrics a run of each kind gets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DatasetMeta
from ml_experiments.reporting import viz
from ml_experiments.reporting.run_report import EvaluatedSplit, run_report

HISTORY = {"train/loss": [1.0, 0.5], "val/loss": [1.1, 0.6], "val/acc": [0.5, 0.8]}


def classifier_results(modality: Modality, **extra) -> EvaluatedSplit:
    meta = DatasetMeta("d", Task.classification, (3, 4, 4), ["no", "yes"], modality=modality)
    targets = np.array([0, 1, 1, 0, 1])
    outputs = torch.tensor([[2.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.5, 0.0], [0.0, 1.0]])
    return EvaluatedSplit(meta, targets, outputs, **extra)


def close_all(report) -> None:
    for figure in report.figures.values():
        viz.close(figure)


def test_a_text_classifier_gets_tables_auc_and_its_surest_mistakes():
    texts = np.array(["a", "b", "c wrong", "d", "e"])
    report = run_report(classifier_results(Modality.text, texts=texts), None, with_figures=False)
    assert set(report.texts) == {
        "reports/classification_report.txt",
        "reports/confidently_wrong.csv",
    }
    assert report.tables["reports/classification_report.json"]["accuracy"] == 0.8
    assert report.metrics["test/roc_auc"] == pytest.approx(4 / 6)  # 4 of 6 pairs in order
    assert "c wrong" in report.texts["reports/confidently_wrong.csv"]
    assert report.figures == {}


def test_an_image_classifier_shows_its_images_and_its_learning_curves():
    shown = []

    def images(indices: np.ndarray) -> np.ndarray:
        shown.append(list(indices))
        return np.zeros((len(indices), 3, 4, 4), dtype=np.float32)

    report = run_report(classifier_results(Modality.image, images=images), HISTORY, True)
    close_all(report)
    assert set(report.figures) == {
        "learning_curves",
        "confusion_matrix",
        "per_class_accuracy",
        "test_predictions",
        "confidently_wrong",
    }
    assert shown == [[0, 1, 2, 3, 4], [2]]  # every test image, then the one mistake


def test_a_regressor_gets_its_prediction_figures_and_no_class_tables():
    meta = DatasetMeta("r", Task.regression, (2,), modality=Modality.tabular)
    results = EvaluatedSplit(meta, np.array([1.0, 2.0, 3.0]), torch.tensor([1.1, 1.9, 3.2]))
    report = run_report(results, None, with_figures=True)
    close_all(report)
    assert set(report.figures) == {"predicted_vs_actual", "residuals"}
    assert report.texts == {} and report.tables == {} and report.metrics == {}
