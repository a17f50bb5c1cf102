"""Mini-batches of an in-memory split."""

from __future__ import annotations

import torch

from ml_experiments.data.base import TensorSplit


def test_shuffled_batches_cover_every_row_once_and_repeat_under_a_seed():
    split = TensorSplit(torch.arange(10).float().unsqueeze(1), torch.arange(10))
    orders = []
    for _ in range(2):
        generator = torch.Generator().manual_seed(1)
        orders.append(torch.cat([y for _, y in split.batches(3, generator)]).tolist())
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == list(range(10)) and orders[0] != list(range(10))
    assert [len(y) for _, y in split.batches(3)] == [3, 3, 3, 1]
