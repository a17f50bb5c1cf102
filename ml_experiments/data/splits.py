"""Seeded train/validation/test splits.

The splits are the ones scikit-learn's `train_test_split` draws for the same seed (its
`ShuffleSplit` and `StratifiedShuffleSplit`), computed here with numpy alone: importing
`sklearn.model_selection` costs about 1.5 s, and most runs need nothing else from
scikit-learn. tests/unit/data/test_splits.py checks that the two agree.
"""

from __future__ import annotations

import math

import numpy as np

from ml_experiments.errors import DataError


def split_indices(
    num_rows: int,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, validation and test; stratified by class when `stratify` is given."""
    rows = np.arange(num_rows)
    held_out = val_fraction + test_fraction
    train, rest = held_out_split(rows, held_out, seed, stratify)
    rest_labels = None if stratify is None else np.asarray(stratify)[rest]
    val, test = held_out_split(rest, test_fraction / held_out, seed, rest_labels)
    return np.sort(train), np.sort(val), np.sort(test)


def held_out_split(
    rows: np.ndarray, fraction: float, seed: int, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out) of `rows`: a seeded `fraction` of them held out (rounded up), in
    random order, per class when `stratify` gives each row's class."""
    count = len(rows)
    if not 0 < fraction < 1:
        raise DataError(f"cannot hold out a fraction {fraction} of the rows: it must be in (0, 1).")
    held = math.ceil(fraction * count)
    kept = count - held
    if kept == 0:
        raise DataError(
            f"holding out {fraction:.0%} of {count} rows leaves none to train on. "
            "Add rows, or hold out a smaller fraction."
        )
    rng = np.random.RandomState(seed)
    if stratify is None:
        order = rng.permutation(count)
        return rows[order[held:]], rows[order[:held]]
    kept_rows, held_rows = _stratified(np.asarray(stratify), kept, held, rng)
    return rows[kept_rows], rows[held_rows]


def _stratified(labels: np.ndarray, kept: int, held: int, rng: np.random.RandomState):
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise DataError(
            f"classes {classes[counts < 2].tolist()} have a single row, too few to spread "
            "over the splits. Add rows of those classes, or drop them."
        )
    if min(kept, held) < len(classes):
        raise DataError(
            f"{kept} kept and {held} held-out rows cannot each hold all {len(classes)} "
            "classes. Add rows, or change the held-out fraction."
        )
    members = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    kept_counts = _apportioned(counts, kept, rng)
    held_counts = _apportioned(counts - kept_counts, held, rng)
    kept_rows, held_rows = [], []
    for rows_of_class, kept_count, held_count in zip(
        members, kept_counts, held_counts, strict=True
    ):
        shuffled = rows_of_class[rng.permutation(len(rows_of_class))]
        kept_rows.extend(shuffled[:kept_count])
        held_rows.extend(shuffled[kept_count : kept_count + held_count])
    return rng.permutation(kept_rows), rng.permutation(held_rows)


def _apportioned(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of `draws` rows each class gives, in proportion to its `counts`: the
    floors first, then one more for the largest remainders, ties broken at random."""
    exact = counts / counts.sum() * draws
    share = np.floor(exact)
    missing = int(draws - share.sum())
    remainders = exact - share
    for value in np.sort(np.unique(remainders))[::-1]:
        if missing <= 0:
            break
        (tied,) = np.where(remainders == value)
        chosen = rng.choice(tied, size=min(len(tied), missing), replace=False)
        share[chosen] += 1
        missing -= len(chosen)
    return share.astype(int)
