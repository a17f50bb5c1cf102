"""Metrics against scikit-learn's."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn import metrics as sk

from ml_experiments.config import register_configs
from ml_experiments.engine.metrics import classification_metrics, regression_metrics

register_configs()


def test_classification_metrics_agree_with_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 4, generator=generator)
    targets = torch.randint(0, 4, (200,), generator=generator)
    ours = classification_metrics(logits, targets)
    predicted = logits.argmax(1).numpy()
    assert ours["acc"] == pytest.approx(sk.accuracy_score(targets, predicted))
    assert ours["f1_macro"] == pytest.approx(sk.f1_score(targets, predicted, average="macro"))
    probabilities = torch.softmax(logits, 1).numpy()
    assert ours["loss"] == pytest.approx(
        sk.log_loss(targets, probabilities, labels=range(4)), rel=1e-5
    )


def test_regression_metrics_agree_with_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    targets = torch.randn(100, generator=generator) * 5 + 20
    predictions = targets + torch.randn(100, generator=generator)
    ours = regression_metrics(predictions, targets)
    assert ours["rmse"] == pytest.approx(
        math.sqrt(sk.mean_squared_error(targets, predictions)), rel=1e-5
    )
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error(targets, predictions), rel=1e-5)
    assert ours["r2"] == pytest.approx(sk.r2_score(targets, predictions), rel=1e-5)
