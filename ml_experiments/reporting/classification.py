"""Reports on a classifier's test predictions, beyond the headline metrics: the
per-class classification report, ROC-AUC for two classes, and for text the examples
it got most confidently wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ml_experiments.engine.metrics import confusion_matrix

if TYPE_CHECKING:
    import pandas as pd

MAX_TEXT_CHARS = 500  # of each text shown in the confidently-wrong table
REPORT_HEADERS = ("precision", "recall", "f1-score", "support")


def classification_report(
    outputs: torch.Tensor, targets: np.ndarray, class_names: list[str]
) -> tuple[str, dict]:
    """Precision, recall, F1 and support per class, as text and as a dict: the layout and
    values of scikit-learn's `classification_report` (zero_division=0), computed from the
    confusion matrix here so a run does not import scikit-learn's metrics for it."""
    predicted = outputs.argmax(dim=1)
    counts = confusion_matrix(predicted, torch.as_tensor(targets), len(class_names)).numpy()
    hits, support, guessed = counts.diagonal(), counts.sum(axis=1), counts.sum(axis=0)
    precision = _ratio(hits, guessed)
    recall = _ratio(hits, support)
    f1 = _ratio(2 * hits, support + guessed)
    rows = {
        name: (precision[i], recall[i], f1[i], support[i]) for i, name in enumerate(class_names)
    }
    total = support.sum()
    averages = {
        "macro avg": (precision.mean(), recall.mean(), f1.mean(), total),
        "weighted avg": (*(_weighted(score, support) for score in (precision, recall, f1)), total),
    }
    accuracy = hits.sum() / total if total else 0.0
    table = {name: _scores(*values) for name, values in rows.items()}
    table |= {"accuracy": float(accuracy)} | {k: _scores(*v) for k, v in averages.items()}
    return _report_text(rows, accuracy, total, averages), table


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (a class never predicted)."""
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def _weighted(score: np.ndarray, support: np.ndarray) -> float:
    return float(np.average(score, weights=support)) if support.sum() else 0.0


def _scores(precision, recall, f1, support) -> dict[str, float]:
    values = (precision, recall, f1, support)
    return dict(zip(REPORT_HEADERS, (float(value) for value in values), strict=True))


def _report_text(rows: dict, accuracy: float, total: int, averages: dict, digits: int = 4) -> str:
    width = max(*(len(name) for name in rows), len("weighted avg"), digits)
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    text = ("{:>{width}s} " + " {:>9}" * 4).format("", *REPORT_HEADERS, width=width) + "\n\n"
    for name, values in rows.items():
        text += row.format(name, *values, width=width, digits=digits)
    text += "\n" + ("{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
        "accuracy", "", "", accuracy, total, width=width, digits=digits
    )
    for name, values in averages.items():
        text += row.format(name, *values, width=width, digits=digits)
    return text


def roc_auc(outputs: torch.Tensor, targets: np.ndarray) -> float | None:
    """Area under the ROC curve of the second class's score; None unless both classes
    occur. It is the chance that a random positive outscores a random negative (ties
    count half), from the scores' ranks."""
    if outputs.shape[1] != 2 or len(np.unique(targets)) != 2:
        return None
    scores = torch.softmax(outputs.double(), dim=1)[:, 1].numpy()
    ranks = _average_ranks(scores)
    positives = targets == 1
    count_positive, count_negative = positives.sum(), (~positives).sum()
    above = ranks[positives].sum() - count_positive * (count_positive + 1) / 2
    return float(above / (count_positive * count_negative))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def confidently_wrong_texts(
    texts: np.ndarray,
    outputs: torch.Tensor,
    targets: np.ndarray,
    class_names: list[str],
    count: int = 25,
) -> pd.DataFrame:
    """The misclassified texts with the highest predicted probability, most confident first."""
    import pandas as pd

    probabilities = torch.softmax(outputs.double(), dim=1).numpy()
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != targets)
    worst = wrong[np.argsort(-probabilities[wrong, predicted[wrong]])][:count]
    return pd.DataFrame(
        {
            "confidence": probabilities[worst, predicted[worst]].round(4),
            "predicted": [class_names[index] for index in predicted[worst]],
            "true": [class_names[index] for index in targets[worst]],
            "text": [str(texts[index])[:MAX_TEXT_CHARS] for index in worst],
        }
    )
