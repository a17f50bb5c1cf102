"""Writing to the active run: metrics, params, artifacts, reports and models.

Every write holds a stop signal back until it is done (`stopping.uninterrupted`), so a
Ctrl-C never lands inside a store transaction.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_experiments.tracking.stopping import uninterrupted

# Beside the MLflow model: what loading needs, in files that hold no code.
MODEL_STATE_FOLDER = "model_state"
WEIGHTS_FILE = "weights.pt"  # a torch model's state_dict (+ its tokenizer), weights_only

if TYPE_CHECKING:
    from ml_experiments.data import DataBundle
    from ml_experiments.reporting.run_report import RunReport


class RunLogger:
    """The active run, seen from the training code: metrics, params, artifacts, models."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.logged_metrics = False
        self.model_id: str | None = None  # the LoggedModel, once logged
        self.test_dataset = None  # the test split as an MLflow dataset, once logged

    @uninterrupted
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Test metrics logged after the model are linked to it and to the test split, so
        the model's page in the UI shows them."""
        import mlflow

        linked = {
            key: value
            for key, value in metrics.items()
            if self.model_id is not None and key.startswith("test/")
        }
        others = {key: value for key, value in metrics.items() if key not in linked}
        if others:
            mlflow.log_metrics(others, step=step)
        if linked:
            mlflow.log_metrics(linked, step=step, model_id=self.model_id, dataset=self.test_dataset)
        self.logged_metrics = True

    @uninterrupted
    def log_datasets(self, datasets: dict[str, Any]) -> None:
        """The splits as the run's inputs (`tracking.datasets.split_datasets`)."""
        import mlflow

        from ml_experiments.tracking.datasets import CONTEXTS

        contexts = [CONTEXTS[split] for split in datasets]
        mlflow.log_inputs(list(datasets.values()), contexts, tags_list=[{} for _ in datasets])
        self.test_dataset = datasets.get("test")

    @uninterrupted
    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        mlflow.log_params(params)

    @uninterrupted
    def set_tag(self, key: str, value: str) -> None:
        import mlflow

        mlflow.set_tag(key, value)

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
    def log_model(self, model, data: DataBundle) -> None:
        """The end-to-end MLflow model (pickled, for `mlflow models serve`: `serving.py`) and,
        beside it under `model_state/`, what `predict` and `evaluate` load without running
        code from the files: a PyTorch model's weights, or a scikit-learn model's fitted
        arrays and values."""
        import mlflow
        import torch

        from ml_experiments.tracking.serving import log_end_to_end_model

        if isinstance(model, torch.nn.Module):
            model = model.cpu().eval()
        self.model_id = log_end_to_end_model(model, data)
        with tempfile.TemporaryDirectory() as scratch:
            _write_model_state(model, Path(scratch))
            mlflow.log_artifacts(scratch, MODEL_STATE_FOLDER)


def _write_model_state(model, folder: Path) -> None:
    import torch

    from ml_experiments.models import fitted_state
    from ml_experiments.models.protocols import ReadsText

    if not isinstance(model, torch.nn.Module):
        fitted_state.save(model, folder)
        return

    weights = {"model": model.state_dict()}
    if isinstance(model, ReadsText):  # a text model cannot be rebuilt without its vocabulary
        weights["tokenizer"] = model.tokenizer.state_dict()
    torch.save(weights, folder / WEIGHTS_FILE)


def log_leaderboard(client, run_id: str, board, metric: str, folder: str = "summary") -> None:
    """Save a leaderboard and its figures as artifacts of `run_id`, under `folder`."""
    from ml_experiments.reporting import leaderboard

    with tempfile.TemporaryDirectory() as scratch:
        leaderboard.save(board, metric, Path(scratch))
        client.log_artifacts(run_id, scratch, folder)
