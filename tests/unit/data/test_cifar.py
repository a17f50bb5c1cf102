"""CIFAR-10 in its real pickle format; the errors for missing, changed, damaged and
tampered files."""

from __future__ import annotations

import builtins
import os
import pickle
import re

import numpy as np
import pytest
import torch

from ml_experiments.data.vision import load_torchvision_images
from ml_experiments.errors import DataError
from tests.helpers.data_files import (
    CIFAR_CLASSES,
    IMAGES_PER_BATCH,
    cifar_batch,
    python2_pickle,
    write_cifar,
)

# The options of load_torchvision_images that these tests leave alone. The tests' files
# are not the official ones, so their checksums are not checked unless a test says so.
OPTIONS = dict(name="cifar10", source="cifar10", download=False, val_size=10,
               train_subset=None, test_subset=None, resize=None, augment={}, seed=0,
               verify_checksums=False)  # fmt: skip


def test_cifar10_reads_the_pickled_batches_and_resizes_each_batch(cifar_root):
    options = OPTIONS | dict(resize=48, augment={"crop_padding": 4, "flip": True})
    data = load_torchvision_images(root=str(cifar_root), **options)
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


def test_batches_pickled_as_the_official_files_are_load(tmp_path):
    write_cifar(tmp_path, dumps=python2_pickle)  # Python 2's str, numpy.core's names
    data = load_torchvision_images(root=str(tmp_path), **OPTIONS)
    expected = torch.from_numpy(cifar_batch(IMAGES_PER_BATCH, 5)["data"].reshape(-1, 3, 32, 32))
    assert torch.equal(data.test.x, expected)
    assert data.test.y.tolist() == cifar_batch(IMAGES_PER_BATCH, 5)["labels"]


def test_missing_cifar_files_say_where_and_how(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py and dataset.download=false"):
        load_torchvision_images(root=str(tmp_path), **OPTIONS)


def test_files_that_are_not_the_official_ones_are_refused_by_their_checksum(cifar_root):
    message = (
        "data_batch_1 is not the official CIFAR-10 file (its MD5 sum differs: damaged or "
        "changed). Delete it and download it again, or set dataset.verify_checksums=false"
    )
    with pytest.raises(DataError, match=re.escape(message)):
        load_torchvision_images(root=str(cifar_root), **OPTIONS | dict(verify_checksums=True))


class RunsCode:
    """Unpickling this calls `function(argument)`: what a tampered file can make pickle do."""

    def __init__(self, function, argument: str):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


@pytest.mark.parametrize(
    ("function", "refused"), [(builtins.exec, "builtins.exec"), (os.system, "posix.system")]
)
def test_a_batch_that_would_run_code_is_refused_before_it_runs(tmp_path, function, refused):
    write_cifar(tmp_path)
    marker = tmp_path / "code_ran"
    command = f"open({str(marker)!r}, 'w')" if function is exec else f"touch '{marker}'"
    tampered = cifar_batch(IMAGES_PER_BATCH, 0) | {"labels": RunsCode(function, command)}
    batch_file = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    batch_file.write_bytes(pickle.dumps(tampered))
    with pytest.raises(DataError, match=re.escape(f"{batch_file} asks to load {refused},")):
        load_torchvision_images(root=str(tmp_path), **OPTIONS)
    assert not marker.exists()


def test_a_cut_short_batch_says_it_is_not_readable(tmp_path):
    write_cifar(tmp_path)
    batch_file = tmp_path / "cifar-10-batches-py" / "test_batch"
    batch_file.write_bytes(batch_file.read_bytes()[:1000])
    with pytest.raises(DataError, match=f"{batch_file} is not a readable CIFAR-10 batch"):
        load_torchvision_images(root=str(tmp_path), **OPTIONS)
