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
from ml_experiments.models.factory import build_model, tokenizer_from_state
from ml_experiments.models.protocols import ReadsText


@dataclass
class TrainedModel:
    model: Any  # a torch module in eval mode, or a fitted scikit-learn estimator
    meta: DatasetMeta
    config: DictConfig  # unresolved: paths can be pointed elsewhere before use
    source: str  # "run <id>" or the checkpoint path, for messages


def load_trained(
    run_id: str | None, checkpoint_path: str | None, tracking_uri: str
) -> TrainedModel:
    if (run_id is None) == (checkpoint_path is None):
        raise UserError("give exactly one of run_id=<MLflow run id> or checkpoint=<path to .pt>")
    if run_id is not None:
        return from_run(run_id, tracking_uri)
    return from_checkpoint(Path(checkpoint_path))


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
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri)
    try:
        run = mlflow.get_run(run_id)
    except MlflowException as error:
        raise UserError(f"no MLflow run with id {run_id} in {tracking_uri}") from error
    models = run.outputs.model_outputs if run.outputs else []
    if not models:
        raise UserError(
            f"run {run_id} has no logged model (was it trained with logger.log_model=false, "
            "or did it fail?). Use checkpoint=<its checkpoints/best.pt> instead."
        )
    uri = f"models:/{models[-1].model_id}"
    flavors = mlflow.models.get_model_info(uri).flavors
    if "pytorch" in flavors:
        model = mlflow.pytorch.load_model(uri, map_location="cpu").eval()
    else:
        model = mlflow.sklearn.load_model(uri)
    meta_values = mlflow.artifacts.load_dict(f"runs:/{run_id}/dataset_meta.json")
    meta = _meta(meta_values, has_tokenizer=isinstance(model, ReadsText))
    config_text = mlflow.artifacts.load_text(f"runs:/{run_id}/config/hydra/config.yaml")
    config = OmegaConf.create(yaml.safe_load(config_text))
    return TrainedModel(model, meta, config, f"run {run_id}")


def _meta(values: dict, has_tokenizer: bool) -> DatasetMeta:
    if "modality" not in values:  # a run from before the modality was recorded
        values = values | {"modality": _legacy_modality(values, has_tokenizer)}
    return DatasetMeta.from_dict(values)


def _legacy_modality(values: dict, has_tokenizer: bool) -> Modality:
    if has_tokenizer or not values["input_shape"]:
        return Modality.text
    return Modality.image if len(values["input_shape"]) == 3 else Modality.tabular
