"""Models for flat feature vectors: a linear layer and a multilayer perceptron."""

import torch
from torch import nn

from ml_experiments.data import DatasetMeta

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class LinearModel(nn.Module):
    """y = Wx + b: linear regression, or logistic regression under cross-entropy."""

    def __init__(self, meta: DatasetMeta):
        super().__init__()
        self.linear = nn.Linear(meta.num_features, meta.output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.flatten(1))
