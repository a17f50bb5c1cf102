"""Load a trained model back, from an MLflow run id or a checkpoint file, with what it
needs around it: the dataset's metadata and the config it was trained with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from ml_experiments.config.schemas import Modality
from ml_experiments.data import DatasetMeta
from ml_experiments.engine import checkpoint
from ml_experiments.errors import CheckpointError, UserError
from ml_experiments.models import fitted_state
from ml_experiments.models.factory import build_model, tokenizer_from_state
from ml_experiments.paths import check_tracking_uri
from ml_experiments.tracking import registry
from ml_experiments.tracking.logger import MODEL_STATE_FOLDER, WEIGHTS_FILE


@dataclass
class TrainedModel:
    model: Any  # a torch module in eval mode, or a fitted scikit-learn estimator
    meta: DatasetMeta
    config: DictConfig  # unresolved: paths can be pointed elsewhere before use
    source: str  # "run <id>" or the checkpoint path, for messages


def load_trained(
    run_id: str | None, checkpoint_path: str | None, tracking_uri: str, model: str | None = None
) -> TrainedModel:
    if sum(source is not None for source in (run_id, checkpoint_path, model)) != 1:
        raise UserError(
            "give exactly one of run_id=<MLflow run id>, model=models:/<name>@<alias> or "
            "checkpoint=<path to .pt>"
        )
    if checkpoint_path is not None:
        return from_checkpoint(Path(checkpoint_path))
    if model is not None:
        check_tracking_uri(tracking_uri)  # before MLflow reads a plain path its own way
        run_id = registry.run_of(model, tracking_uri)
    return from_run(run_id, tracking_uri)


def from_checkpoint(path: Path) -> TrainedModel:
    state = checkpoint.load(path)
    if "meta" not in state or "config_unresolved" not in state:
        raise CheckpointError(f"{path} was written by an older version; it has no dataset metadata")
    meta = _meta(state["meta"], has_tokenizer="tokenizer" in state)
    config = OmegaConf.create(state["config_unresolved"])
    # A text model's fitted vocabulary sizes it.
    tokenizer = tokenizer_from_state(state["tokenizer"]) if "tokenizer" in state else None
    model = build_model(config.model, meta, tokenizer)
    model.load_state_dict(state["model"])
    return TrainedModel(model.eval(), meta, config, str(path))


def from_run(run_id: str, tracking_uri: str) -> TrainedModel:
    """The run's model rebuilt from its config through the model factory, with its saved
    weights or fitted arrays: nothing in the run's files is unpickled, so a tampered
    model cannot run code here (the pickled MLflow model is for `mlflow models serve`)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    check_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        run = mlflow.get_run(run_id)
    except MlflowException as error:
        raise UserError(f"no MLflow run with id {run_id} in {tracking_uri}") from error
    if not (run.outputs and run.outputs.model_outputs):
        raise UserError(
            f"run {run_id} has no logged model (was it trained with logger.log_model=false, "
            "or did it fail?). Use checkpoint=<its checkpoints/best.pt> instead."
        )
    state = _download_model_state(run_id)
    config_text = mlflow.artifacts.load_text(f"runs:/{run_id}/config/hydra/config.yaml")
    config = OmegaConf.create(yaml.safe_load(config_text))
    meta_values = mlflow.artifacts.load_dict(f"runs:/{run_id}/dataset_meta.json")
    weights_file = state / WEIGHTS_FILE
    if not weights_file.is_file():  # a scikit-learn model: arrays and JSON
        meta = _meta(meta_values, has_tokenizer=False)
        estimator = fitted_state.load_into(build_model(config.model, meta), state)
        return TrainedModel(estimator, meta, config, f"run {run_id}")
    weights = _read_weights(weights_file, run_id)
    meta = _meta(meta_values, has_tokenizer="tokenizer" in weights)
    tokenizer = tokenizer_from_state(weights["tokenizer"]) if "tokenizer" in weights else None
    model = build_model(config.model, meta, tokenizer)
    model.load_state_dict(weights["model"])
    return TrainedModel(model.eval(), meta, config, f"run {run_id}")


def _download_model_state(run_id: str) -> Path:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{MODEL_STATE_FOLDER}"))
    except (MlflowException, OSError) as error:
        raise UserError(
            f"run {run_id} has no {MODEL_STATE_FOLDER}/ artifact, the model files that load "
            "without running code (it was logged by an older version). Use "
            "checkpoint=<its checkpoints/best.pt>, or train it again."
        ) from error


def _read_weights(path: Path, run_id: str) -> dict:
    import torch

    try:
        weights = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load fails in many ways; weights_only refuses code
        raise CheckpointError(
            f"cannot read the weights of run {run_id} ({path.name}): the file is damaged or "
            f"holds more than tensors and plain values ({checkpoint.load_failure(error)}). "
            "Train the run again, or use checkpoint=<its checkpoints/best.pt>."
        ) from error
    if not isinstance(weights, dict) or "model" not in weights:
        raise CheckpointError(f"{path.name} of run {run_id} holds no model weights")
    return weights


def _meta(values: dict, has_tokenizer: bool) -> DatasetMeta:
    if "modality" not in values:  # a run from before the modality was recorded
        values = values | {"modality": _legacy_modality(values, has_tokenizer)}
    return DatasetMeta.from_dict(values)


def _legacy_modality(values: dict, has_tokenizer: bool) -> Modality:
    if has_tokenizer or not values["input_shape"]:
        return Modality.text
    return Modality.image if len(values["input_shape"]) == 3 else Modality.tabular
