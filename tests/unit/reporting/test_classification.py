"""Classification reports: scikit-learn's per-class report and ROC-AUC, computed without
it; the most confident mistakes first."""

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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_report_is_scikit_learns(seed):
    """Same text, same values, with a class never predicted and one never present."""
    import numpy as np
    import torch
    from sklearn.metrics import classification_report as sklearn_report

    from ml_experiments.reporting.classification import classification_report

    rng = np.random.default_rng(seed)
    names = ["cat", "dog", "a longer class name", "never present"]
    targets = rng.integers(0, 3, 60)
    outputs = torch.as_tensor(rng.normal(size=(60, 4)))
    outputs[:, 1] -= 10  # "dog" is never predicted
    text, table = classification_report(outputs, targets, names)
    options = {"y_true": targets, "y_pred": outputs.argmax(dim=1).numpy(), "zero_division": 0,
               "labels": list(range(4)), "target_names": names}  # fmt: skip
    assert text == sklearn_report(**options, digits=4)
    expected = sklearn_report(**options, output_dict=True)
    assert table.keys() == expected.keys()
    assert table["accuracy"] == pytest.approx(expected["accuracy"])
    for name in set(expected) - {"accuracy"}:
        assert table[name] == pytest.approx(expected[name]), name


@pytest.mark.parametrize("seed", [0, 1])
def test_roc_auc_is_scikit_learns_with_ties(seed):
    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from ml_experiments.reporting.classification import roc_auc

    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 2, 200)
    logits = torch.as_tensor(rng.integers(-3, 4, size=(200, 2)).astype(float))  # many ties
    scores = torch.softmax(logits, dim=1)[:, 1].numpy()
    assert roc_auc(logits, targets) == pytest.approx(roc_auc_score(targets, scores))
