"""Metrics computed from model outputs, the same way for the torch and scikit-learn paths.

Regression outputs are predictions of shape (N,); classification outputs are
logits (or log-probabilities) of shape (N, num_classes).
"""

import torch
import torch.nn.functional as F

from ml_experiments.config.schemas import Task


def compute_metrics(task: Task, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    outputs, targets = outputs.float().cpu(), targets.cpu()
    if task == Task.classification:
        return classification_metrics(outputs, targets)
    return regression_metrics(outputs, targets.float())


def regression_metrics(predictions: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    errors = predictions - targets
    mse = errors.pow(2).mean().item()
    total = (targets - targets.mean()).pow(2).sum().item()
    return {
        "loss": mse,
        "rmse": mse**0.5,
        "mae": errors.abs().mean().item(),
        "r2": 1.0 - errors.pow(2).sum().item() / total if total > 0 else float("nan"),
    }


def classification_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    num_classes = logits.shape[1]
    predicted = logits.argmax(dim=1)
    confusion = confusion_matrix(predicted, targets, num_classes)
    true_positives = confusion.diag().float()
    precision = true_positives / confusion.sum(dim=0).clamp(min=1)
    recall = true_positives / confusion.sum(dim=1).clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    # Macro-F1 over the classes that occur in the targets or the predictions.
    present = (confusion.sum(dim=0) + confusion.sum(dim=1)) > 0
    return {
        "loss": F.cross_entropy(logits, targets).item(),
        "acc": (predicted == targets).float().mean().item(),
        "f1_macro": f1[present].mean().item(),
    }


def confusion_matrix(
    predicted: torch.Tensor, targets: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Counts with true classes as rows and predicted classes as columns."""
    flat = targets * num_classes + predicted
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)
