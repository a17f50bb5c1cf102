"""Reports on a classifier's test predictions, beyond the headline metrics: the
per-class classification report, ROC-AUC for two classes, and for text the examples
it got most confidently wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

MAX_TEXT_CHARS = 500  # of each text shown in the confidently-wrong table


def classification_report(
    outputs: torch.Tensor, targets: np.ndarray, class_names: list[str]
) -> tuple[str, dict]:
    """Precision, recall, F1 and support per class, as text and as a dict."""
    from sklearn.metrics import classification_report as sklearn_report

    predicted = outputs.argmax(dim=1).numpy()
    options = {
        "y_true": targets,
        "y_pred": predicted,
        "labels": list(range(len(class_names))),
        "target_names": class_names,
        "zero_division": 0,
    }
    return sklearn_report(**options, digits=4), sklearn_report(**options, output_dict=True)


def roc_auc(outputs: torch.Tensor, targets: np.ndarray) -> float | None:
    """Area under the ROC curve of the second class's score; None unless both classes occur."""
    from sklearn.metrics import roc_auc_score

    if outputs.shape[1] != 2 or len(np.unique(targets)) != 2:
        return None
    scores = torch.softmax(outputs.float(), dim=1)[:, 1].numpy()
    return float(roc_auc_score(targets, scores))


def confidently_wrong_texts(
    texts: np.ndarray,
    outputs: torch.Tensor,
    targets: np.ndarray,
    class_names: list[str],
    count: int = 25,
) -> pd.DataFrame:
    """The misclassified texts with the highest predicted probability, most confident first."""
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
