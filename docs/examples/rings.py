"""A data set and a model of your own, as docs/own_data_and_models.md describes them:
two noisy concentric rings of points, and a small network for them."""

from __future__ import annotations

import math

import torch
from torch import nn

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DataBundle, DatasetMeta, TensorSplit


def load_rings(name: str, points: int, noise: float, *, seed: int) -> DataBundle:
    """`points` 2-D points per ring (inner: class 0, outer: class 1), split 70/15/15."""
    generator = torch.Generator().manual_seed(seed)  # the run's seed: the same data each time
    angles = torch.rand(2 * points, generator=generator) * 2 * math.pi
    labels = torch.arange(2 * points) // points
    radii = 1.0 + labels.float() + noise * torch.randn(2 * points, generator=generator)
    x = torch.stack([radii * angles.cos(), radii * angles.sin()], dim=1)
    order = torch.randperm(2 * points, generator=generator)
    train, val, test = order.tensor_split([int(0.7 * len(order)), int(0.85 * len(order))])
    meta = DatasetMeta(
        name=name,
        task=Task.classification,
        input_shape=(2,),
        class_names=["inner", "outer"],
        modality=Modality.tabular,
    )
    return DataBundle(*(TensorSplit(x[rows], labels[rows]) for rows in (train, val, test)), meta)


class RingNet(nn.Module):
    """Sized from the data's metadata, like every model of the project."""

    def __init__(self, meta: DatasetMeta, hidden: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(meta.num_features, hidden), nn.Tanh(), nn.Linear(hidden, meta.output_size)
        )

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.layers(points)
