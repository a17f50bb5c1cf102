"""Seeded train/validation/test splits."""

import numpy as np


def split_indices(
    num_rows: int,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, validation and test; stratified by class when `stratify` is given."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(num_rows)
    held_out = val_fraction + test_fraction
    train, rest = train_test_split(rows, test_size=held_out, random_state=seed, stratify=stratify)
    rest_labels = None if stratify is None else np.asarray(stratify)[rest]
    val, test = train_test_split(
        rest,
        test_size=test_fraction / held_out,
        random_state=seed,
        stratify=rest_labels,
    )
    return np.sort(train), np.sort(val), np.sort(test)
