"""Writing to the active run: metrics, params, artifacts, reports and models.

Every write holds a stop signal back until it is done (`stopping.uninterrupted`), so a
Ctrl-C never lands inside a store transaction.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_experiments.tracking.stopping import uninterrupted

if TYPE_CHECKING:
    from ml_experiments.reporting.run_report import RunReport


class RunLogger:
    """The active run, seen from the training code: metrics, params, artifacts, models."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.logged_metrics = False

    @uninterrupted
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import mlflow

        mlflow.log_metrics(metrics, step=step)
        self.logged_metrics = True

    @uninterrupted
    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        mlflow.log_params(params)

    @uninterrupted
    def log_text(self, text: str, name: str) -> None:
        import mlflow

        mlflow.log_text(text, name)

    @uninterrupted
    def log_dict(self, values: dict, name: str) -> None:
        import mlflow

        mlflow.log_dict(values, name)

    @uninterrupted
    def log_figure(self, figure, name: str) -> None:
        import mlflow

        from ml_experiments.reporting import viz

        mlflow.log_figure(figure, f"figures/{name}.png")
        viz.close(figure)

    @uninterrupted
    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        import mlflow

        mlflow.log_artifact(str(path), folder)

    def log_report(self, report: RunReport, step: int) -> None:
        """A run's report: its extra metrics, texts, tables and figures, as artifacts."""
        if report.metrics:
            self.log_metrics(report.metrics, step)
        for name, text in report.texts.items():
            self.log_text(text, name)
        for name, values in report.tables.items():
            self.log_dict(values, name)
        for name, figure in report.figures.items():
            self.log_figure(figure, name)

    @uninterrupted
    def log_torch_model(self, model, input_example) -> None:
        import mlflow.pytorch
        import torch

        # MLflow warns about pickle on every call; the choice is deliberate (see below).
        logging.getLogger("mlflow.pytorch").setLevel(logging.ERROR)
        mlflow.pytorch.log_model(
            model.cpu().eval(),
            name="model",
            input_example=input_example,
            # Listing the requirement skips MLflow's slow import-tracing inference.
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
            # Pickle works for every model (torch.export, the default, fails on LSTMs with
            # packed sequences and on many Hugging Face models) and logs 3x faster.
            serialization_format="pickle",
        )

    @uninterrupted
    def log_sklearn_model(self, estimator, input_example) -> None:
        import mlflow.sklearn
        import sklearn

        logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)  # the pickle warning
        mlflow.sklearn.log_model(
            estimator,
            name="model",
            input_example=input_example,
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            # skops, MLflow's default, writes each array of a fitted vocabulary as its own
            # zip entry, in time quadratic in their number: minutes for a text model.
            serialization_format="cloudpickle",
        )


def log_leaderboard(client, run_id: str, board, metric: str, folder: str = "summary") -> None:
    """Save a leaderboard and its figures as artifacts of `run_id`, under `folder`."""
    from ml_experiments.reporting import leaderboard

    with tempfile.TemporaryDirectory() as scratch:
        leaderboard.save(board, metric, Path(scratch))
        client.log_artifacts(run_id, scratch, folder)
