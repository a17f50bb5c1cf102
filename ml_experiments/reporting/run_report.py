"""What one run shows besides its metrics: figures, tables and texts, returned as data.

`tracking.logger.RunLogger.log_report` writes a `RunReport` to the run; a written
report can draw on the very same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from matplotlib.figure import Figure

from ml_experiments.config.schemas import Task
from ml_experiments.data import DatasetMeta
from ml_experiments.engine.metrics import confusion_matrix
from ml_experiments.reporting import classification, viz

IMAGES_SHOWN = 32
WRONG_IMAGES_SHOWN = 16


@dataclass
class EvaluatedSplit:
    """A model's outputs on the test split, and what is needed to show them."""

    meta: DatasetMeta
    targets: np.ndarray
    outputs: torch.Tensor  # on the CPU: logits (N, classes), or predictions (N,)
    texts: np.ndarray | None = None  # the raw test texts, for text data
    # The test images at these indices, as the model sees them; for image data.
    images: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass
class RunReport:
    """Artifacts by name: figures (saved as figures/<name>.png), texts and JSON tables
    (by artifact path), and metrics the report computed."""

    figures: dict[str, Figure] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def run_report(
    results: EvaluatedSplit, history: dict[str, list[float]] | None, with_figures: bool
) -> RunReport:
    """The report of a finished run; `history` holds its per-epoch metrics (torch runs)."""
    report = RunReport()
    if results.meta.task == Task.classification:
        _add_classification_tables(report, results)
    if not with_figures:
        return report
    if history is not None:
        quality = "val/acc" if results.meta.task == Task.classification else "val/rmse"
        report.figures["learning_curves"] = viz.learning_curves(history, quality)
    if results.meta.task == Task.classification:
        _add_classification_figures(report, results)
    else:
        _add_regression_figures(report, results)
    return report


def _add_classification_tables(report: RunReport, results: EvaluatedSplit) -> None:
    """The per-class report, ROC-AUC for two classes, and for text the most confidently
    wrong test examples."""
    names = results.meta.class_names
    text, values = classification.classification_report(results.outputs, results.targets, names)
    report.texts["reports/classification_report.txt"] = text
    report.tables["reports/classification_report.json"] = values
    area = classification.roc_auc(results.outputs, results.targets)
    if area is not None:
        report.metrics["test/roc_auc"] = area
    if results.texts is not None:
        wrong = classification.confidently_wrong_texts(
            results.texts, results.outputs, results.targets, names
        )
        report.texts["reports/confidently_wrong.csv"] = wrong.to_csv(index=False)


def _add_regression_figures(report: RunReport, results: EvaluatedSplit) -> None:
    predictions = results.outputs.numpy()
    figure = viz.predicted_vs_actual(predictions, results.targets, "target")
    report.figures["predicted_vs_actual"] = figure
    report.figures["residuals"] = viz.residuals(predictions, results.targets)


def _add_classification_figures(report: RunReport, results: EvaluatedSplit) -> None:
    meta = results.meta
    predicted = results.outputs.argmax(dim=1)
    targets = torch.as_tensor(results.targets)
    counts = confusion_matrix(predicted, targets, meta.num_classes).numpy()
    report.figures["confusion_matrix"] = viz.confusion_matrix(counts, meta.class_names)
    report.figures["per_class_accuracy"] = viz.per_class_accuracy(counts, meta.class_names)
    if results.images is not None:
        _add_image_figures(report, results, predicted.numpy())


def _add_image_figures(report: RunReport, results: EvaluatedSplit, predicted: np.ndarray) -> None:
    names, targets = results.meta.class_names, results.targets
    shown = np.arange(min(IMAGES_SHOWN, len(targets)))
    report.figures["test_predictions"] = viz.prediction_grid(
        results.images(shown), targets[shown], predicted[shown], names
    )
    confidence = torch.softmax(results.outputs, dim=1).max(dim=1).values.numpy()
    wrong = np.flatnonzero(predicted != targets)
    surest = wrong[np.argsort(-confidence[wrong])][:WRONG_IMAGES_SHOWN]
    if len(surest):
        report.figures["confidently_wrong"] = viz.confidently_wrong(
            results.images(surest), targets[surest], predicted[surest], confidence[surest], names
        )
