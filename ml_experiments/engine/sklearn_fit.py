"""The scikit-learn path: fit an estimator on the same splits, score it the same way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ml_experiments.data import DataBundle, TensorSplit
from ml_experiments.data.base import CLASSIFICATION
from ml_experiments.engine.metrics import compute_metrics


@dataclass
class SklearnResult:
    estimator: object
    metrics: dict[str, float]  # train/loss, val/*, test/*
    test_outputs: torch.Tensor


def fit_and_test(estimator, data: DataBundle) -> SklearnResult:
    estimator.fit(data.train.x.numpy(), data.train.y.numpy())
    task = data.meta.task
    metrics = {"train/loss": _score(estimator, data.train, task)[0]["loss"]}
    val_metrics, _ = _score(estimator, data.val, task)
    test_metrics, test_outputs = _score(estimator, data.test, task)
    metrics |= {f"val/{key}": value for key, value in val_metrics.items()}
    metrics |= {f"test/{key}": value for key, value in test_metrics.items()}
    return SklearnResult(estimator, metrics, test_outputs)


def _score(estimator, split: TensorSplit, task: str) -> tuple[dict[str, float], torch.Tensor]:
    outputs = _outputs(estimator, split.x.numpy(), task)
    return compute_metrics(task, outputs, split.y), outputs


def _outputs(estimator, features: np.ndarray, task: str) -> torch.Tensor:
    """Predictions for regression; log-probabilities (the metrics' logits) for classification."""
    if task == CLASSIFICATION:
        probabilities = np.clip(estimator.predict_proba(features), 1e-12, 1.0)
        return torch.tensor(np.log(probabilities), dtype=torch.float32)
    return torch.tensor(estimator.predict(features), dtype=torch.float32)
