"""CIFAR-10 in its real pickle format, and the error when its files are missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_experiments.data.vision import load_torchvision_images
from tests.helpers.data_files import CIFAR_CLASSES, IMAGES_PER_BATCH, cifar_batch


def test_cifar10_reads_the_pickled_batches_and_resizes_each_batch(cifar_root):
    data = load_torchvision_images(
        name="cifar10", source="cifar10", root=str(cifar_root), download=False, val_size=10,
        train_subset=None, test_subset=None, resize=48, augment={"crop_padding": 4, "flip": True},
        seed=0,
    )  # fmt: skip
    assert (len(data.train), len(data.val), len(data.test)) == (90, 10, 20)
    assert data.train.x.shape[1:] == (3, 32, 32) and data.train.x.dtype == torch.uint8
    batches = [cifar_batch(IMAGES_PER_BATCH, seed) for seed in range(5)]
    labels = sorted(label for batch in batches for label in batch["labels"])
    assert sorted(torch.cat([data.train.y, data.val.y]).tolist()) == labels
    pixels = sum(int(batch["data"].astype(np.int64).sum()) for batch in batches)
    assert int(torch.cat([data.train.x, data.val.x]).long().sum()) == pixels
    test_batch = torch.from_numpy(cifar_batch(IMAGES_PER_BATCH, 5)["data"].reshape(-1, 3, 32, 32))
    assert torch.equal(data.test.x, test_batch)  # test_batch, in file order
    assert data.meta.input_shape == (3, 48, 48) and data.meta.class_names == CIFAR_CLASSES
    batch = data.prepare_batch(data.train.x[:4], True)
    assert batch.shape == (4, 3, 48, 48) and 0.0 <= batch.min() and batch.max() <= 1.0


def test_missing_cifar_files_say_where_and_how(tmp_path):
    from ml_experiments.errors import DataError

    with pytest.raises(DataError, match="cifar-10-batches-py and dataset.download=false"):
        load_torchvision_images(
            name="cifar10", source="cifar10", root=str(tmp_path), download=False, val_size=10,
            train_subset=None, test_subset=None, resize=None, augment={}, seed=0,
        )  # fmt: skip
