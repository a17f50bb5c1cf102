"""scikit-learn baselines that run through the same entry point and run logging."""

from ml_experiments.data import DatasetMeta
from ml_experiments.data.base import REGRESSION


def linear_baseline(meta: DatasetMeta, C: float, max_iter: int):
    """Ordinary least squares for regression; logistic regression for classification."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if meta.task == REGRESSION:
        return LinearRegression()
    return LogisticRegression(C=C, max_iter=max_iter)
