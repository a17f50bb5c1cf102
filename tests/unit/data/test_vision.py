"""MNIST from the real files, and the errors when image files are missing or cut short."""

from __future__ import annotations

import re

import pytest
import torch

from ml_experiments.data.vision import load_torchvision_images
from ml_experiments.errors import DataError
from tests.helpers.data_files import write_mnist

# The options of load_torchvision_images that these tests leave at their defaults.
DEFAULTS = dict(download=False, train_subset=None, test_subset=None, resize=None, augment={})


def test_real_mnist_loads_with_a_seeded_validation_split(shared_data):
    options = dict(name="mnist", source="mnist", root=str(shared_data), val_size=5000, **DEFAULTS)
    data = load_torchvision_images(**options, seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (55000, 5000, 10000)
    assert data.train.x.dtype == torch.uint8 and data.meta.input_shape == (1, 28, 28)
    assert data.meta.class_names[:3] == ["0", "1", "2"]
    assert 0.12 < data.meta.channel_mean[0] < 0.14  # MNIST's well-known mean, 0.1307
    again = load_torchvision_images(**options, seed=0)
    assert torch.equal(data.val.y, again.val.y)
    other = load_torchvision_images(**options, seed=1)
    assert not torch.equal(data.val.y, other.val.y)


def test_missing_image_files_say_where_they_were_expected(tmp_path):
    with pytest.raises(DataError, match=f"FashionMNIST not found in {tmp_path}/FashionMNIST/raw"):
        load_torchvision_images(
            name="f", source="fashion_mnist", root=str(tmp_path), val_size=10, seed=0, **DEFAULTS
        )


def test_small_idx_files_in_the_real_format_load(tmp_path):
    write_mnist(tmp_path, train_count=30, test_count=10)
    data = load_torchvision_images(
        name="mnist", source="mnist", root=str(tmp_path), val_size=5, seed=0, **DEFAULTS
    )
    assert (len(data.train), len(data.val), len(data.test)) == (25, 5, 10)


def test_a_cut_short_idx_file_says_it_is_damaged_not_missing(tmp_path):
    write_mnist(tmp_path, train_count=30, test_count=10)
    images = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[: 16 + 15 * 28 * 28])  # the header and 15 images
    message = (
        f"{images} is damaged or truncated: its header says 23,536 bytes but it has 11,776. "
        "Delete it and download it again (dataset.download=true), or copy it again"
    )
    with pytest.raises(DataError, match=re.escape(message)):
        load_torchvision_images(
            name="mnist", source="mnist", root=str(tmp_path), val_size=5, seed=0, **DEFAULTS
        )
