"""Models for flat feature vectors: a linear layer and a multilayer perceptron."""

import torch
from torch import nn

from ml_experiments.config.schemas import Task
from ml_experiments.data import DatasetMeta

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class TargetScale(nn.Module):
    """A regressor's last step: its standardized answer back in the target's units, with
    the training split's mean and spread kept in the model (saved with its weights)."""

    def __init__(self, meta: DatasetMeta):
        super().__init__()
        mean, std = (meta.target_mean, meta.target_std) if meta.target_std else (0.0, 1.0)
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs * self.std + self.mean


def output_step(meta: DatasetMeta) -> nn.Module:
    return TargetScale(meta) if meta.task == Task.regression else nn.Identity()


class LinearModel(nn.Module):
    """y = Wx + b: linear regression, or logistic regression under cross-entropy."""

    def __init__(self, meta: DatasetMeta):
        super().__init__()
        self.linear = nn.Linear(meta.num_features, meta.output_size)
        self.output = output_step(meta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.linear(x.flatten(1)))


class MLP(nn.Module):
    """Linear layers with a nonlinearity (and optional batch norm, dropout) between them."""

    def __init__(
        self,
        meta: DatasetMeta,
        hidden_sizes: list[int],
        dropout: float,
        activation: str,
        batch_norm: bool,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = meta.num_features
        for hidden in hidden_sizes:
            layers.append(nn.Linear(width, hidden))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, meta.output_size))
        self.layers = nn.Sequential(*layers)
        self.output = output_step(meta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.layers(x.flatten(1)))
