"""Convolutional networks for small images, sized from the dataset's metadata.

Both take images in [0, 1] and normalize them as their first layer, so a saved
model needs nothing but pixels to predict. Both can start from the convolutional
features of another run (`model.weights`), frozen or not (`model.freeze`). The copied
features include that run's input normalization: the features were learned on inputs
scaled that way.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ml_experiments.config.schemas import Modality
from ml_experiments.data import DatasetMeta
from ml_experiments.errors import ConfigError
from ml_experiments.models.transfer import FreezableModule, copy_backbone, set_trainable


class Normalize(nn.Module):
    """(x - mean) / std per channel, with the statistics of the training images."""

    def __init__(self, mean: list[float], std: list[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std


def _image_shape(meta: DatasetMeta, model: str) -> tuple[int, int, int]:
    if meta.modality != Modality.image:
        raise ConfigError(
            f"model={model} needs images (channels, height, width), but dataset "
            f"{meta.name} gives inputs of shape {meta.input_shape}. Use model=mlp or "
            "model=linear for tabular data."
        )
    return meta.input_shape


class TransferableCNN(FreezableModule):
    """What both CNNs share for transfer: `features` copied from another run, a new head."""

    features: nn.Sequential
    weights: str | None

    def load_pretrained(self, source: str) -> None:
        """Start from the convolutional features in the checkpoint file `source` (the
        best.pt of the run `model.weights` names)."""
        copy_backbone(self, Path(source), backbone="features")


def _freeze(model: nn.Module, freeze: str) -> None:
    if freeze not in ("none", "backbone"):
        raise ConfigError(f"model.freeze={freeze} is not one of: none, backbone")
    if freeze != "none" and model.weights is None:
        raise ConfigError(
            f"model.freeze={freeze} keeps copied features, but model.weights=null starts from "
            "random ones. Set model.weights=<run id or best.pt>, or model.freeze=none."
        )
    set_trainable(model.features, freeze == "none")


class SimpleCNN(TransferableCNN):
    """Stage 2: conv-ReLU-maxpool blocks, then a small fully connected head."""

    def __init__(
        self,
        meta: DatasetMeta,
        channels: list[int],
        hidden: int,
        dropout: float,
        weights: str | None = None,
        freeze: str = "none",
    ):
        super().__init__()
        in_channels, height, width = _image_shape(meta, "simple_cnn")
        blocks: list[nn.Module] = [Normalize(meta.channel_mean, meta.channel_std)]
        for out_channels in channels:
            blocks += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
            height, width = height // 2, width // 2
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * height * width, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, meta.output_size),
        )
        self.weights = weights
        _freeze(self, freeze)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def _check_head_grid(head_grid: int, height: int, width: int, stages: int) -> None:
    last_side = min(height, width) // 2 ** (stages - 1)  # max-pooling halves it between stages
    if not 1 <= head_grid <= last_side:
        raise ConfigError(
            f"model.head_grid={head_grid}: the last stage's maps are {last_side} pixels a "
            f"side here, so the head can average them over a grid of 1 to {last_side} a side. "
            "Use model.head_grid=1 for global average pooling."
        )


class DeepCNN(TransferableCNN):
    """Stage 3: stages of 3x3 convolutions (optional batch norm), pooling between
    stages, average pooling (over the whole map, or a `head_grid` grid) and a linear
    classifier. A linear probe of frozen features (`freeze=backbone`) keeps more of them
    with a finer grid: where a stroke is tells digits apart."""

    def __init__(
        self,
        meta: DatasetMeta,
        channels: list[int],
        convs_per_stage: int,
        batch_norm: bool,
        dropout: float,
        weights: str | None = None,
        freeze: str = "none",
        head_grid: int = 1,
    ):
        super().__init__()
        in_channels, height, width = _image_shape(meta, "deep_cnn")
        _check_head_grid(head_grid, height, width, len(channels))
        layers: list[nn.Module] = [Normalize(meta.channel_mean, meta.channel_std)]
        for stage, out_channels in enumerate(channels):
            for _ in range(convs_per_stage):
                layers.append(
                    nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not batch_norm)
                )
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels))
                layers.append(nn.ReLU(inplace=True))
                in_channels = out_channels
            if stage < len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(head_grid),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(in_channels * head_grid * head_grid, meta.output_size),
        )
        self.weights = weights
        _freeze(self, freeze)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))
