"""Train/validation/test splits."""

from __future__ import annotations

import numpy as np

from ml_experiments.data.splits import split_indices


def test_splits_are_seeded_disjoint_and_stratified():
    labels = np.array([0] * 80 + [1] * 20)
    first = split_indices(100, 0.2, 0.2, seed=5, stratify=labels)
    again = split_indices(100, 0.2, 0.2, seed=5, stratify=labels)
    other = split_indices(100, 0.2, 0.2, seed=6, stratify=labels)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    assert sorted(np.concatenate(first).tolist()) == list(range(100))
    assert [int(labels[part].sum()) for part in first] == [12, 4, 4]
