"""Writing to the active run: metrics, params, artifacts, reports and models.

Every write holds a stop signal back until it is done (`stopping.uninterrupted`), so a
Ctrl-C never lands inside a store transaction.

Writes are synchronous. Writing the epochs' metrics in the background was measured and
dropped: with the store's write-ahead log (`store.py`) a write is mostly MLflow's own
Python work, some 6 ms of CPU that a background thread takes from training when torch
already uses every core; and MLflow's asynchronous logging makes each run's end wait up
to a second for its queue's thread.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

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

    def log_text(self, text: str, name: str) -> None:
        self.log_files({name: text})

    def log_dict(self, values: dict, name: str) -> None:
        self.log_files({name: values})

    @uninterrupted
    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        import mlflow

        mlflow.log_artifact(str(path), folder)

    def log_report(self, report: RunReport, step: int) -> None:
        """A run's report: its extra metrics, and its texts, tables and figures (saved as
        figures/<name>.png) as artifacts, in one write."""
        if report.metrics:
            self.log_metrics(report.metrics, step)
        figures = {f"figures/{name}.png": figure for name, figure in report.figures.items()}
        self.log_files(report.texts | report.tables | figures)

    @uninterrupted
    def log_files(self, contents: dict[str, Any]) -> None:
        """Artifacts by path, all in one write: a text (str), a table (dict, as JSON or
        YAML by the file's suffix) or a matplotlib figure (drawn to the file, then closed)."""
        import mlflow

        if not contents:
            return
        with tempfile.TemporaryDirectory() as scratch:
            for name, content in contents.items():
                _write_file(content, Path(scratch) / name)
            mlflow.log_artifacts(scratch)

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


def _write_file(content, path: Path) -> None:
    """One artifact file as MLflow's log_text, log_dict (JSON) and log_figure write it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, dict) and path.suffix in (".yaml", ".yml"):
        path.write_text(yaml.dump(content, indent=2, default_flow_style=False))
    elif isinstance(content, dict):
        path.write_text(json.dumps(content, indent=2, default=str))
    else:  # a matplotlib figure
        from ml_experiments.reporting import viz

        content.savefig(path)
        viz.close(content)


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
