"""Figures logged with runs and sweeps. Each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def learning_curves(history: dict[str, list[float]], quality_metric: str) -> Figure:
    """Loss (train and validation), a quality metric (accuracy, RMSE) and the learning rate."""
    panels = [("loss", ["train/loss", "val/loss"])]
    if quality_metric in history:
        panels.append((quality_metric, [quality_metric]))
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
    _tight_layout(figure)
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
    _tight_layout(figure)
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
    _tight_layout(figure)
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
    _tight_layout(figure)
    return figure


def prediction_grid(
    images: np.ndarray, true: np.ndarray, predicted: np.ndarray, class_names: list[str]
) -> Figure:
    """Test images with their true and predicted labels; mistakes in red."""
    return _image_panels(
        images,
        [
            (
                f"{class_names[p]}" if p == t else f"{class_names[p]}\n(true: {class_names[t]})",
                p == t,
            )
            for t, p in zip(true, predicted, strict=True)
        ],
        "test predictions (red: wrong)",
    )


def confidently_wrong(
    images: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: list[str],
) -> Figure:
    """The mistakes the model was surest of, most confident first."""
    titles = [
        (f"{class_names[p]} {c:.0%}\n(true: {class_names[t]})", False)
        for t, p, c in zip(true, predicted, confidence, strict=True)
    ]
    return _image_panels(images, titles, "most confidently wrong test predictions")


def per_class_accuracy(counts: np.ndarray, class_names: list[str]) -> Figure:
    """Share of each true class predicted correctly, from a confusion matrix."""
    accuracy = counts.diagonal() / np.maximum(counts.sum(axis=1), 1)
    figure, axis = plt.subplots(figsize=(max(5, 0.6 * len(class_names) + 2), 3.8))
    bars = axis.bar(range(len(class_names)), accuracy, color="tab:blue")
    axis.bar_label(bars, labels=[f"{value:.1%}" for value in accuracy], fontsize=7)
    axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axis.set_ylim(min(0.5, accuracy.min() - 0.05), 1.02)
    axis.set_ylabel("test accuracy")
    axis.set_title("per-class accuracy")
    _tight_layout(figure)
    return figure


def _image_panels(images: np.ndarray, titles: list[tuple[str, bool]], heading: str) -> Figure:
    """Images (N, C, H, W) in [0, 1] as one montage, each captioned (green if right, else red).

    One axes with one picture draws several times faster than an axes per image.
    """
    count, channels, height, width = images.shape
    columns = min(8, max(count, 1))
    rows = max(1, -(-count // columns))
    gap = max(2, height // 8)
    cell_height, cell_width = height + 2 * gap + height // 2, width + gap  # room for captions
    montage = np.ones((rows * cell_height, columns * cell_width, channels), dtype=np.float32)
    figure, axis = plt.subplots(figsize=(1.5 * columns, 1.9 * rows + 0.4))
    for index, (image, (title, correct)) in enumerate(zip(images, titles, strict=True)):
        row, column = divmod(index, columns)
        top, left = row * cell_height + height // 2 + gap, column * cell_width
        montage[top : top + height, left : left + width] = image.transpose(1, 2, 0)
        axis.text(
            left + width / 2,
            top - 1,
            title,
            ha="center",
            va="bottom",
            fontsize=7,
            color="tab:green" if correct else "tab:red",
        )
    axis.imshow(montage.squeeze(-1) if channels == 1 else montage, cmap="gray", vmin=0, vmax=1)
    axis.axis("off")
    axis.set_title(heading)
    _tight_layout(figure)
    return figure


# --- comparing runs: `board` is a leaderboard (compare.leaderboard), best first ---------


def metric_vs_params(board, metric: str, params: list[str]) -> Figure:
    """One panel per varied param: the metric of each run against that param's value."""
    figure, axes = plt.subplots(1, len(params), figsize=(4.2 * len(params), 3.6), squeeze=False)
    for axis, param in zip(axes[0], params, strict=True):
        positions, labels, log_scale = _axis_values(board[param])
        axis.scatter(positions, board[metric], alpha=0.8)
        if labels is not None:
            axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        if log_scale:
            axis.set_xscale("log")
        axis.set_xlabel(param)
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    _tight_layout(figure)
    return figure


def parallel_coordinates(board, metric: str, params: list[str]) -> Figure:
    """Each run a line across one axis per param and the metric, coloured by the metric."""
    columns = [*params, metric]
    axes_values = [_axis_values(board[column]) for column in columns]
    scaled = np.column_stack([_scaled(*axis_values) for axis_values in axes_values])
    scores = board[metric].to_numpy(dtype=float)
    colours = plt.cm.viridis((scores - scores.min()) / (np.ptp(scores) or 1.0))
    figure, axis = plt.subplots(figsize=(1.8 * len(columns) + 2, 4))
    for row in reversed(range(len(board))):  # the best run (first) drawn last, on top
        axis.plot(range(len(columns)), scaled[row], color=colours[row], alpha=0.8)
    axis.set_xticks(range(len(columns)), columns, rotation=20, ha="right")
    axis.tick_params(axis="x", pad=14)  # below the lowest value's label
    axis.set_yticks([])
    axis.set_ylim(-0.08, 1.08)
    for position, axis_values in enumerate(axes_values):
        axis.axvline(position, color="grey", linewidth=0.8)
        low, high = _extremes(*axis_values)
        axis.text(position, -0.03, low, ha="center", va="top", fontsize=8)
        axis.text(position, 1.03, high, ha="center", va="bottom", fontsize=8)
    mappable = plt.cm.ScalarMappable(cmap="viridis")
    mappable.set_clim(scores.min(), scores.max())
    figure.colorbar(mappable, ax=axis, label=metric)
    axis.set_title(f"{len(board)} runs", pad=16)
    _tight_layout(figure)
    return figure


def _tight_layout(figure: Figure) -> None:
    """Fit the axes and their labels to the figure, once.

    `tight_layout` leaves a placeholder layout engine behind, and `savefig` then draws the
    whole figure once more before the real drawing, only to lay it out again: about a
    fifth of a figure's time. With no engine, saving draws once.
    """
    figure.tight_layout()
    figure.set_layout_engine(None)


def close(figure: Figure) -> None:
    plt.close(figure)


def _axis_values(column) -> tuple[np.ndarray, list[str] | None, bool]:
    """Numbers as they are (log scale when they span 20x or more), or categories as 0..k-1."""
    numbers = np.array([_number(value) for value in column], dtype=float)
    if not np.isnan(numbers).any():
        spans_decades = numbers.min() > 0 and numbers.max() / numbers.min() >= 20
        return numbers, None, bool(spans_decades)
    labels = sorted({str(value) for value in column})
    return np.array([labels.index(str(value)) for value in column]), labels, False


def _extremes(positions: np.ndarray, labels: list[str] | None, _log_scale: bool) -> tuple[str, str]:
    """The labels at the bottom and top of a parallel-coordinates axis."""
    if labels is not None:
        return labels[0], labels[-1]
    return f"{positions.min():.4g}", f"{positions.max():.4g}"


def _scaled(positions: np.ndarray, _labels: list[str] | None, log_scale: bool) -> np.ndarray:
    """An axis's values mapped to [0, 1] (on a log scale when the axis has one)."""
    positions = np.log10(positions) if log_scale else positions.astype(float)
    span = np.ptp(positions)
    return (positions - positions.min()) / span if span else np.full(len(positions), 0.5)


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
