"""Figures only a report of several runs draws; each function returns a matplotlib Figure.
The figures of one run and of a leaderboard are in `viz`, and reports reuse them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ml_experiments.reporting import viz  # noqa: F401  (selects the Agg backend first)


def curves_by_configuration(
    histories: dict[str, list[dict[str, list[float]]]], best: str, metric: str
) -> Figure:
    """`metric` and the training loss per epoch: every run of the best configuration in
    colour, every other run in grey, so the best is seen against the rest."""
    panels = [key for key in (metric, "train/loss") if _any_has(histories, key)]
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for axis, key in zip(axes[0], panels, strict=True):
        # The best configuration last, so it is drawn on top of the others.
        for label, runs in sorted(histories.items(), key=lambda item: item[0] == best):
            is_best = label == best
            for index, history in enumerate(runs):
                values = np.asarray(history.get(key, []), dtype=float)
                axis.plot(
                    range(1, len(values) + 1),
                    values,
                    color="tab:blue" if is_best else "grey",
                    linewidth=2 if is_best else 0.8,
                    alpha=0.9 if is_best else 0.5,
                    label=(f"best: {label}" if is_best else "other configurations")
                    if index == 0
                    else None,
                )
        if key.endswith("loss") and all(_positive(runs, key) for runs in histories.values()):
            axis.set_yscale("log")
        axis.set_title(key)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        _legend_once(axis)
    figure.tight_layout()
    return figure


def _any_has(histories: dict[str, list[dict]], key: str) -> bool:
    return any(key in history for runs in histories.values() for history in runs)


def _positive(runs: list[dict[str, list[float]]], key: str) -> bool:
    values = [value for history in runs for value in history.get(key, [])]
    return bool(values) and min(values) > 0 and np.isfinite(values).all()


def _legend_once(axis) -> None:
    """One legend entry for the best configuration and one for all the others."""
    handles, labels = axis.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axis.legend(unique.values(), unique.keys(), fontsize=8)
