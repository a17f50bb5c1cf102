"""Metric names and which way is better: no torch, so command-line tools and config
resolvers can ask cheaply."""

from ml_experiments.config.schemas import Task

METRIC_NAMES = {
    Task.regression: ("loss", "rmse", "mae", "r2"),
    Task.classification: ("loss", "acc", "f1_macro"),
}


# Whether a lower ("min") or higher ("max") value of a metric is better.
DIRECTIONS = {
    "loss": "min",
    "rmse": "min",
    "mae": "min",
    "acc": "max",
    "f1_macro": "max",
    "r2": "max",
    "roc_auc": "max",
}


def direction(metric: str) -> str:
    """ "min" or "max" for a logged metric key such as `val/acc`."""
    return DIRECTIONS[metric.rsplit("/", 1)[-1]]


def logged_metric_names(task: Task) -> list[str]:
    """The metric keys every run of this task logs, e.g. `val/rmse` (usable as objectives)."""
    names = ["train/loss"]
    for split in ("val", "test"):
        names += [f"{split}/{name}" for name in METRIC_NAMES[task]]
    return names
