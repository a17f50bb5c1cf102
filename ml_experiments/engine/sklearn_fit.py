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
    estimator.fit(features(data, data.train), data.train.y.numpy())
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


def model_outputs(estimator, data: DataBundle, split: TensorSplit | TextSplit) -> torch.Tensor:
    """Predictions for regression; log-probabilities (the metrics' logits) for classification."""
    inputs = features(data, split)
    if data.meta.task != Task.classification:
        return torch.tensor(estimator.predict(inputs), dtype=torch.float32)
    return class_log_probabilities(estimator, inputs)


def class_log_probabilities(estimator, inputs) -> torch.Tensor:
    """(examples, classes) log-probabilities of a fitted classifier."""
    if hasattr(estimator, "predict_proba"):
        probabilities = np.clip(estimator.predict_proba(inputs), 1e-12, 1.0)
        return torch.tensor(np.log(probabilities), dtype=torch.float32)
    # A linear SVM has margins, not probabilities: their log-softmax ranks the same way.
    margins = torch.tensor(estimator.decision_function(inputs), dtype=torch.float32)
    if margins.ndim == 1:  # binary: one margin, positive for the second class
        margins = torch.stack([-margins / 2, margins / 2], dim=1)
    return torch.log_softmax(margins, dim=1)


def _score(
    estimator, data: DataBundle, split: TensorSplit
) -> tuple[dict[str, float], torch.Tensor]:
    outputs = model_outputs(estimator, data, split)
    return compute_metrics(data.meta.task, outputs, split.y), outputs
