"""scikit-learn baselines that run through the same entry point and run logging."""

from ml_experiments.config.schemas import Task
from ml_experiments.data import DatasetMeta


def linear_baseline(meta: DatasetMeta, C: float, max_iter: int):
    """Ordinary least squares for regression; logistic regression for classification."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if meta.task == Task.regression:
        return LinearRegression()
    return LogisticRegression(C=C, max_iter=max_iter)
