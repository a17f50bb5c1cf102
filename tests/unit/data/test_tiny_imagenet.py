"""Tiny ImageNet from its released folder layout: class ids from wnids.txt and names from
words.txt, validation carved from train/, the labelled val/ images as the test split, and
a clear error naming the layout when a part is missing."""

from __future__ import annotations

import shutil

import pytest
import torch

from ml_experiments.data.tiny_imagenet import load_tiny_imagenet
from ml_experiments.errors import DataError
from tests.helpers.data_files import TINY_IMAGENET_CLASSES, write_tiny_imagenet

OPTIONS = dict(val_fraction=0.2, train_subset=None, test_subset=None, resize=None, augment={})


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_tiny_imagenet(tmp_path_factory.mktemp("tiny") / "tiny-imagenet-200")


def colour_of(split, label: int) -> torch.Tensor:
    """The mean colour (R, G, B) of a split's images of one class."""
    return split.x[split.y == label].float().mean(dim=(0, 2, 3))


def test_the_released_layout_reads_with_names_and_labels(root):
    data = load_tiny_imagenet("tiny_imagenet", str(root), seed=0, **OPTIONS)
    assert data.meta.class_names == ["goldfish", "European fire salamander", "Egyptian cat"]
    assert data.meta.input_shape == (3, 64, 64) and data.meta.stored_shape is None
    # 10 per class in train/: 2 of each held out for validation; val/ is the test split.
    assert (len(data.train), len(data.val), len(data.test)) == (24, 6, 12)
    for split in (data.train, data.val, data.test):
        assert split.x.dtype == torch.uint8 and split.x.shape[1:] == (3, 64, 64)
        assert torch.bincount(split.y).tolist() == [len(split) // 3] * 3
    # Each class has its own colour: the labels (test's from val_annotations.txt) match.
    for label, (_, colour) in enumerate(TINY_IMAGENET_CLASSES.values()):
        for split in (data.train, data.test):
            assert torch.allclose(colour_of(split, label), torch.tensor(colour).float(), atol=20)
    assert data.summary == {"unreadable_files_skipped": 0, "rows_used": 42}


def test_validation_and_the_training_subset_follow_the_seed(root):
    first = load_tiny_imagenet("t", str(root), seed=0, **(OPTIONS | {"train_subset": 12}))
    again = load_tiny_imagenet("t", str(root), seed=0, **(OPTIONS | {"train_subset": 12}))
    other = load_tiny_imagenet("t", str(root), seed=1, **(OPTIONS | {"train_subset": 12}))
    assert len(first.train) == 12
    assert torch.equal(first.val.x, again.val.x) and torch.equal(first.train.x, again.train.x)
    assert not torch.equal(first.val.x, other.val.x)
    assert torch.equal(first.test.x, other.test.x)  # every seed is tested on the same images


def test_a_resize_keeps_the_images_at_64_and_enlarges_each_batch(root):
    data = load_tiny_imagenet("t", str(root), seed=0, **(OPTIONS | {"resize": 96}))
    assert data.meta.input_shape == (3, 96, 96) and data.meta.stored_shape == (3, 64, 64)
    assert data.train.x.shape[1:] == (3, 64, 64)
    assert data.prepare_batch(data.train.x[:2], False).shape == (2, 3, 96, 96)


@pytest.mark.parametrize(
    "remove", ["wnids.txt", "words.txt", "train", "val/images", "val/val_annotations.txt"]
)
def test_a_missing_part_names_it_and_the_expected_layout(root, tmp_path, remove):
    copy = shutil.copytree(root, tmp_path / "tiny-imagenet-200")
    part = copy / remove
    shutil.rmtree(part) if part.is_dir() else part.unlink()
    with pytest.raises(DataError, match=f"lacks {remove}. Expected wnids.txt, words.txt"):
        load_tiny_imagenet("t", str(copy), seed=0, **OPTIONS)


def test_an_annotation_of_an_unknown_class_is_refused(root, tmp_path):
    copy = shutil.copytree(root, tmp_path / "tiny-imagenet-200")
    annotations = copy / "val" / "val_annotations.txt"
    annotations.write_text(annotations.read_text() + "val_0.JPEG\tn09999999\t0\t0\t1\t1\n")
    with pytest.raises(DataError, match="class n09999999, which wnids.txt does not list"):
        load_tiny_imagenet("t", str(copy), seed=0, **OPTIONS)
