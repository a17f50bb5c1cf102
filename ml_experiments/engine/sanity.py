"""Results the code can tell are meaningless, said out loud.

Every run is scored next to a trivial baseline on the same test split: the training
split's class frequencies for a classifier (so the majority class is its prediction),
the training mean for a regressor. A run no better than that learned nothing usable; a
run whose training loss still fell steeply in its last epoch stopped too early. Either
is a warning on the console and a `warning` tag, never a silent FINISHED.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ml_experiments.config.schemas import Task
from ml_experiments.data import DataBundle
from ml_experiments.engine.metrics import compute_metrics

BASELINE_PREFIX = "baseline/test/"
# Stopped before it converged: the training loss fell more than NOISE_PER_EPOCH an epoch
# over the last TREND_EPOCHS epochs, and the last epoch was the best on validation or
# those epochs brought more than RECENT_SHARE of the loss's whole fall.
TREND_EPOCHS = 3
RECENT_SHARE = 0.10
NOISE_PER_EPOCH = 0.01


@dataclass(frozen=True)
class ResultWarning:
    tag: str  # the value of the run's `warning` tag
    message: str


def baseline_metrics(data: DataBundle) -> dict[str, float]:
    """The test metrics of the trivial baseline, as `baseline/test/<metric>`."""
    task = data.meta.task
    outputs = _baseline_outputs(task, data.train.y, len(data.test), data.meta.num_classes)
    metrics = compute_metrics(task, outputs, data.test.y)
    return {f"{BASELINE_PREFIX}{name}": value for name, value in metrics.items()}


def _baseline_outputs(
    task: Task, train_targets: torch.Tensor, count: int, num_classes: int | None
) -> torch.Tensor:
    targets = train_targets.cpu()
    if task == Task.regression:
        return targets.float().mean().expand(count)
    frequencies = torch.bincount(targets, minlength=num_classes).float() / len(targets)
    return frequencies.clamp(min=1e-12).log().expand(count, num_classes)


def result_warnings(
    task: Task, metrics: dict[str, float], history: dict[str, list[float]] | None
) -> list[ResultWarning]:
    """What is wrong with a finished run's `metrics` (its test and baseline metrics) and
    its per-epoch `history` (None for a scikit-learn fit)."""
    found = []
    worse = _no_better_than_baseline(task, metrics)
    if worse is not None:
        found.append(ResultWarning("worse_than_baseline", worse))
    steep = _still_improving(history or {}, metrics.get("best_epoch"))
    if steep is not None:
        found.append(ResultWarning("still_improving", steep))
    return found


def _no_better_than_baseline(task: Task, metrics: dict[str, float]) -> str | None:
    # Accuracy for a classifier (the baseline's is the majority share), RMSE for a regressor.
    name, higher_is_better = ("acc", True) if task == Task.classification else ("rmse", False)
    run, baseline = metrics.get(f"test/{name}"), metrics.get(f"{BASELINE_PREFIX}{name}")
    if run is None or baseline is None:
        return None
    better = run > baseline if higher_is_better else run < baseline
    if better:
        return None
    trivial = "predicting the majority class" if higher_is_better else "predicting the mean"
    return (
        f"test/{name}={run:.4g} is no better than {trivial} ({baseline:.4g}): the model "
        "learned nothing usable. Train longer, raise the learning rate or check the data."
    )


def _still_improving(history: dict[str, list[float]], best_epoch: float | None) -> str | None:
    """The training loss still fell at the end, and either the validation metric was
    best at the last epoch or the last epochs brought a good share of the whole fall:
    more epochs (or a higher learning rate) would have helped."""
    losses = history.get("train/loss", [])
    epochs = min(TREND_EPOCHS, len(losses) - 1)
    if epochs < 1 or losses[-1] <= 0:
        return None
    per_epoch = 1 - (losses[-1] / losses[-1 - epochs]) ** (1 / epochs)
    recent, total = losses[-1 - epochs] - losses[-1], losses[0] - losses[-1]
    best_at_the_end = best_epoch is not None and int(best_epoch) == len(losses)
    if per_epoch <= NOISE_PER_EPOCH or not (best_at_the_end or recent > RECENT_SHARE * total):
        return None
    return (
        f"train/loss still fell {per_epoch:.1%} per epoch over the last {epochs} epoch(s) "
        f"({losses[-1 - epochs]:.4g} -> {losses[-1]:.4g})"
        + (", and the last epoch was the best on validation" if best_at_the_end else "")
        + ": training stopped before it converged. Raise trainer.max_epochs or the "
        "learning rate."
    )
