"""Figures logged with every run. Each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def learning_curves(history: dict[str, list[float]], monitor: str) -> Figure:
    """Loss (train and validation), the monitored metric, and the learning rate per epoch."""
    panels = [("loss", ["train/loss", "val/loss"])]
    if monitor not in ("val/loss", "train/loss"):
        panels.append((monitor, [monitor]))
    panels.append(("learning rate", ["train/lr"]))
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8))
    for axis, (title, keys) in zip(np.atleast_1d(axes), panels, strict=True):
        for key in keys:
            values = history.get(key, [])
            axis.plot(range(1, len(values) + 1), values, label=key)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if title == "loss" and min(history.get("train/loss", [1.0])) > 0:
            axis.set_yscale("log")
        axis.legend()
    figure.tight_layout()
    return figure


def predicted_vs_actual(predictions: np.ndarray, targets: np.ndarray, target_name: str) -> Figure:
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.scatter(targets, predictions, s=12, alpha=0.6)
    low, high = min(targets.min(), predictions.min()), max(targets.max(), predictions.max())
    axis.plot([low, high], [low, high], color="black", linewidth=1, label="perfect")
    axis.set_xlabel(f"actual {target_name}")
    axis.set_ylabel(f"predicted {target_name}")
    axis.set_title("test set: predicted vs actual")
    axis.legend()
    figure.tight_layout()
    return figure


def residuals(predictions: np.ndarray, targets: np.ndarray) -> Figure:
    errors = predictions - targets
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.scatter(predictions, errors, s=12, alpha=0.6)
    left.axhline(0, color="black", linewidth=1)
    left.set_xlabel("predicted")
    left.set_ylabel("residual (predicted - actual)")
    left.set_title("residuals vs prediction")
    right.hist(errors, bins=30)
    right.set_xlabel("residual")
    right.set_title("residual distribution")
    figure.tight_layout()
    return figure


def confusion_matrix(counts: np.ndarray, class_names: list[str]) -> Figure:
    """Rows are true classes, columns predicted; cells show counts, colour shows row share."""
    size = max(4.5, 0.5 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45, ha="right")
    axis.set_yticks(ticks, class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for row in ticks:
        for column in ticks:
            axis.text(
                column,
                row,
                int(counts[row, column]),
                ha="center",
                va="center",
                color="white" if shares[row, column] > 0.5 else "black",
                fontsize=8,
            )
    axis.set_title("test set confusion matrix")
    figure.tight_layout()
    return figure
