"""Classification reports: the most confident mistakes first."""

from __future__ import annotations

import pytest


def test_the_most_confident_mistakes_come_first():
    import numpy as np
    import torch

    from ml_experiments.reporting.classification import confidently_wrong_texts, roc_auc

    probabilities = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    targets = np.array([1, 1, 1, 0])
    texts = np.array(["a", "b", "c", "d"], dtype=object)
    table = confidently_wrong_texts(texts, probabilities.log(), targets, ["neg", "pos"])
    assert table["text"].tolist() == ["a", "d", "c"]  # "b" is right
    assert table["confidence"].tolist() == [0.9, 0.7, 0.6]
    assert table["predicted"].tolist() == ["neg", "pos", "neg"]
    assert roc_auc(probabilities.log(), targets) == pytest.approx(1 / 3)
