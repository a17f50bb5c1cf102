"""Train/validation/test splits."""

from __future__ import annotations

import numpy as np
import pytest

from ml_experiments.data.splits import held_out_split, split_indices
from ml_experiments.errors import DataError


def test_splits_are_seeded_disjoint_and_stratified():
    labels = np.array([0] * 80 + [1] * 20)
    first = split_indices(100, 0.2, 0.2, seed=5, stratify=labels)
    again = split_indices(100, 0.2, 0.2, seed=5, stratify=labels)
    other = split_indices(100, 0.2, 0.2, seed=6, stratify=labels)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    assert sorted(np.concatenate(first).tolist()) == list(range(100))
    assert [int(labels[part].sum()) for part in first] == [12, 4, 4]


@pytest.mark.parametrize("seed", [0, 1, 7, 42])
@pytest.mark.parametrize(
    ("counts", "fraction"),
    [([80, 20], 0.2), ([50, 50, 3], 0.15), ([7, 11, 13, 2, 29], 0.4), ([1797], 0.3)],
)
def test_the_split_is_scikit_learns_for_the_same_seed(counts, fraction, seed):
    """Runs split their data as they did when scikit-learn drew the splits: same seed,
    same rows, same order."""
    from sklearn.model_selection import train_test_split

    labels = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    rows = np.arange(len(labels)) + 1000  # not 0..n-1: rows are picked, not counted
    for stratify in (labels, None):
        expected = train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
        found = held_out_split(rows, fraction, seed, stratify)
        assert all(np.array_equal(a, b) for a, b in zip(found, expected, strict=True))


def test_digits_split_as_before():
    """The default run's data: 1797 digits, 15% validation and 15% test, seed 42."""
    from sklearn.model_selection import train_test_split

    labels = np.random.default_rng(0).integers(0, 10, 1797)
    rows = np.arange(1797)
    train, rest = train_test_split(rows, test_size=0.3, random_state=42, stratify=labels)
    val, test = train_test_split(rest, test_size=0.5, random_state=42, stratify=labels[rest])
    found = split_indices(1797, 0.15, 0.15, seed=42, stratify=labels)
    expected = (np.sort(train), np.sort(val), np.sort(test))
    assert all(np.array_equal(a, b) for a, b in zip(found, expected, strict=True))


@pytest.mark.parametrize(
    ("labels", "fraction", "problem"),
    [
        ([0] * 10 + [1], 0.2, r"classes \[1\] have a single row"),
        ([0, 0, 1, 1, 2, 2], 0.3, "cannot each hold all 3 classes"),
        ([0, 1], 0.9, "leaves none to train on"),
        ([0, 1, 0, 1], 1.0, "must be in"),
    ],
)
def test_splits_that_cannot_be_drawn_are_named(labels, fraction, problem):
    with pytest.raises(DataError, match=problem):
        held_out_split(np.arange(len(labels)), fraction, 0, np.array(labels))
