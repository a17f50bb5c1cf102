"""A run's data as MLflow datasets: one input per split, with the split's digest, where
the data came from and its schema, so the UI's Datasets column and a run's Datasets
section show what it was trained, validated and tested on."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DatasetMeta
from ml_experiments.data.fingerprint import SPLITS, DataFingerprint

# MLflow's names for what a split is used for (the `mlflow.data.context` input tag).
CONTEXTS = {"train": "training", "val": "validation", "test": "testing"}
DIGEST_CHARACTERS = 16  # MLflow stores at most 36


def split_datasets(
    meta: DatasetMeta, dataset: DictConfig, fingerprint: DataFingerprint
) -> dict[str, Any]:
    """split -> an `mlflow.data` dataset holding its metadata (not its rows)."""
    from mlflow.data.meta_dataset import MetaDataset

    source, schema = _source(dataset), _schema(meta)
    return {
        split: MetaDataset(
            source,
            name=f"{meta.name}/{split}",
            digest=fingerprint.split_digests[split][:DIGEST_CHARACTERS],
            schema=schema,
        )
        for split in SPLITS
    }


def _source(dataset: DictConfig):
    """The file or folder the data was read from; for a bundled set, its loader."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    location = dataset.get("path") or dataset.get("root")
    if not location:
        return CodeDatasetSource({"loader": str(dataset.get("_target_"))})
    with warnings.catch_warnings():  # a local path matches two registered kinds of source
        warnings.simplefilter("ignore", UserWarning)
        return resolve_dataset_source(Path(str(location)).resolve().as_uri())


def _schema(meta: DatasetMeta):
    import numpy as np
    from mlflow.types import ColSpec, DataType, Schema, TensorSpec

    if meta.task == Task.classification:
        target = ColSpec(DataType.string, "label")
    else:
        target = ColSpec(DataType.double, "target")
    if meta.modality == Modality.text:
        inputs = [ColSpec(DataType.string, "text")]
    elif meta.modality == Modality.image:
        return Schema([TensorSpec(np.dtype("float32"), (-1, *meta.input_shape), "image")])
    else:
        names = meta.feature_names or [f"x{index}" for index in range(meta.num_features)]
        inputs = [ColSpec(DataType.double, name) for name in names]
    return Schema([*inputs, target])
