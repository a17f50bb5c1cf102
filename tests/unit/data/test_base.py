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


def test_several_passes_shuffle_each_pass_anew_and_run_on_across_their_ends():
    split = TensorSplit(torch.arange(10).float().unsqueeze(1), torch.arange(10))
    generator = torch.Generator().manual_seed(1)
    batches = [y for _, y in split.batches(4, generator, passes=3)]
    assert [len(y) for y in batches] == [4] * 7 + [2]  # 30 examples: batch 3 spans two passes
    order = torch.cat(batches).tolist()
    passes = [order[start : start + 10] for start in (0, 10, 20)]
    assert all(sorted(one_pass) == list(range(10)) for one_pass in passes)
    assert len({tuple(one_pass) for one_pass in passes}) == 3
    in_order = torch.cat([y for _, y in split.batches(4, passes=2)]).tolist()
    assert in_order == list(range(10)) * 2
