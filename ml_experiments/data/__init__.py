"""Datasets: each loader returns a `DataBundle` of train/val/test tensors and metadata."""

from ml_experiments.data.base import DataBundle, DatasetMeta, TensorSplit

__all__ = ["DataBundle", "DatasetMeta", "TensorSplit"]
