"""The scikit-learn path: fit an estimator on the same splits, score it the same way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ml_experiments.config.schemas import Task
from ml_experiments.data import DataBundle, TensorSplit
from ml_experiments.data.text import TextSplit
from ml_experiments.engine.metrics import compute_metrics


@dataclass
class SklearnResult:
    estimator: object
    metrics: dict[str, float]  # train/loss, val/*, test/*
    test_outputs: torch.Tensor


def fit_and_test(estimator, data: DataBundle) -> SklearnResult:
    estimator.fit(features(data, data.train), _targets(data, data.train))
    metrics = {"train/loss": _score(estimator, data, data.train)[0]["loss"]}
    val_metrics, _ = _score(estimator, data, data.val)
    test_metrics, test_outputs = _score(estimator, data, data.test)
    metrics |= {f"val/{key}": value for key, value in val_metrics.items()}
    metrics |= {f"test/{key}": value for key, value in test_metrics.items()}
    return SklearnResult(estimator, metrics, test_outputs)


def features(data: DataBundle, split: TensorSplit | TextSplit) -> np.ndarray:
    """A split as scikit-learn wants it: the raw texts, or a 2-D float array (images are
    flattened)."""
    if isinstance(split, TextSplit):
        return split.texts
    return data.prepare_batch(split.x, False).flatten(1).numpy()


def _targets(data: DataBundle, split: TensorSplit | TextSplit) -> np.ndarray:
    """Class names for a classifier, so the fitted model's own `predict` (as MLflow serves
    it) answers with labels; numbers for a regressor."""
    if data.meta.task != Task.classification:
        return split.y.numpy()
    return np.asarray(data.meta.class_names, dtype=object)[split.y.numpy()]


def model_outputs(estimator, data: DataBundle, split: TensorSplit | TextSplit) -> torch.Tensor:
    """Predictions for regression; log-probabilities (the metrics' logits) for classification."""
    inputs = features(data, split)
    if data.meta.task != Task.classification:
        return torch.tensor(estimator.predict(inputs), dtype=torch.float32)
    return class_log_probabilities(estimator, inputs, data.meta.class_names)


def class_log_probabilities(estimator, inputs, class_names: list[str]) -> torch.Tensor:
    """(examples, classes) log-probabilities of a fitted classifier, one column per class
    in the order of `class_names` (a class missing from the training split: none)."""
    if hasattr(estimator, "predict_proba"):
        probabilities = np.clip(estimator.predict_proba(inputs), 1e-12, 1.0)
        scores = torch.tensor(np.log(probabilities), dtype=torch.float32)
    else:
        # A linear SVM has margins, not probabilities: their log-softmax ranks the same way.
        margins = torch.tensor(estimator.decision_function(inputs), dtype=torch.float32)
        if margins.ndim == 1:  # binary: one margin, positive for the second class
            margins = torch.stack([-margins / 2, margins / 2], dim=1)
        scores = torch.log_softmax(margins, dim=1)
    return _in_class_order(scores, list(estimator.classes_), class_names)


def _in_class_order(scores: torch.Tensor, fitted: list, class_names: list[str]) -> torch.Tensor:
    """Columns rearranged from the estimator's `classes_` (sorted names, or the class
    indices of models fitted before labels were names) to `class_names`' order."""
    ordered = torch.full((len(scores), len(class_names)), np.log(1e-12), dtype=scores.dtype)
    for index, name in enumerate(class_names):
        for label in (name, index):
            if label in fitted:
                ordered[:, index] = scores[:, fitted.index(label)]
                break
    return ordered


def _score(
    estimator, data: DataBundle, split: TensorSplit
) -> tuple[dict[str, float], torch.Tensor]:
    outputs = model_outputs(estimator, data, split)
    return compute_metrics(data.meta.task, outputs, split.y), outputs
