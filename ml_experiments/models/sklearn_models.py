"""scikit-learn baselines that run through the same entry point and run logging."""

from ml_experiments.config.schemas import Task
from ml_experiments.data import DatasetMeta
from ml_experiments.engine.sklearn_fit import Candidates


def linear_baseline(meta: DatasetMeta, C: float | None, C_grid: list[float], max_iter: int):
    """Ordinary least squares for regression; logistic regression for classification."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if meta.task == Task.regression:
        return LinearRegression()
    return LogisticRegression(C=regularization(C, C_grid), max_iter=max_iter)


def regularization(C: float | None, C_grid: list[float]) -> float | Candidates:
    """A linear classifier's C: the one given, or (C null) the grid's values, for the fit
    to choose among on the validation split."""
    if C is not None:
        return C
    if not C_grid or min(C_grid) <= 0:
        raise ValueError(f"C is null and C_grid={C_grid}: give C, or positive values to try")
    return Candidates(float(value) for value in C_grid)
