"""The CNNs' heads: the grid DeepCNN averages its last stage over, and its limits."""

from __future__ import annotations

import pytest
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DatasetMeta
from ml_experiments.errors import ConfigError
from ml_experiments.models.cnn import DeepCNN

DIGITS = DatasetMeta(
    "d", Task.classification, (1, 28, 28), [str(digit) for digit in range(10)],
    channel_mean=[0.13], channel_std=[0.31], modality=Modality.image,
)  # fmt: skip


@pytest.mark.parametrize("grid", [1, 3, 7])
def test_the_head_sees_the_last_stage_averaged_over_its_grid(grid):
    model = DeepCNN(DIGITS, [4, 8, 16], 1, True, 0.0, head_grid=grid)
    assert model.head[-1].in_features == 16 * grid * grid
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_a_finer_grid_keeps_where_a_feature_is():
    """With one average over the map, a stroke in one corner and the same stroke in the
    other give the same features; on a grid they do not."""
    torch.manual_seed(0)
    image = torch.zeros(1, 1, 28, 28)
    image[..., 6:10, 6:10] = 1.0
    # Moved by a multiple of the pooling, and kept out of reach of the borders' padding.
    moved = image.roll(shifts=(12, 12), dims=(-2, -1))
    for grid, alike in ((1, True), (7, False)):
        model = DeepCNN(DIGITS, [4, 8], 1, False, 0.0, head_grid=grid).eval()
        pooled = [model.head[:2](model.features(x)) for x in (image, moved)]
        assert torch.allclose(*pooled, atol=0.01) == alike  # 0.4 apart on the grid


@pytest.mark.parametrize("grid", [0, 8])
def test_a_grid_finer_than_the_last_stage_is_refused(grid):
    with pytest.raises(ConfigError, match=r"head_grid=.*1 to 7 a side"):
        DeepCNN(DIGITS, [4, 8, 16], 1, True, 0.0, head_grid=grid)
