"""A user's own folder of images: classes from folder names, real PNG and JPEG files of
any size read into memory, seeded stratified splits or the folder's own, unreadable files
skipped and counted."""

from __future__ import annotations

import pytest
import torch

from ml_experiments.data.image_folder import load_image_folder
from ml_experiments.errors import DataError
from tests.helpers.data_files import write_image_folder

OPTIONS = dict(size=16, channels=1, val_fraction=0.25, test_fraction=0.25, augment={})


def test_a_flat_folder_is_split_by_class_and_seed(tmp_path):
    root = write_image_folder(tmp_path / "flat", per_class=12)
    data = load_image_folder("mine", str(root), seed=0, **OPTIONS)
    assert data.meta.class_names == ["bright", "dark"]
    assert (len(data.train), len(data.val), len(data.test)) == (12, 6, 6)
    assert all(torch.bincount(split.y).tolist() == [len(split) // 2] * 2 for split in
               (data.train, data.val, data.test))  # fmt: skip
    assert data.train.x.shape[1:] == (1, 16, 16) and data.train.x.dtype == torch.uint8
    assert data.summary == {"unreadable_files_skipped": 2, "rows_used": 24}
    # The bright class is lighter in the middle than at its border, the dark one the reverse.
    images = data.prepare_batch(data.train.x, False)
    centre = images[:, 0, 6:8, 6:8].mean(dim=(1, 2))
    assert ((centre > 0.5) == (data.train.y == 0)).all()
    again = load_image_folder("mine", str(root), seed=0, **OPTIONS)
    other = load_image_folder("mine", str(root), seed=1, **OPTIONS)
    assert torch.equal(data.test.x, again.test.x) and not torch.equal(data.test.x, other.test.x)


def test_train_and_test_folders_are_kept_and_validation_is_carved_from_train(tmp_path):
    root = write_image_folder(tmp_path / "split", per_class=12, layout="split")
    data = load_image_folder("mine", str(root), seed=0, **(OPTIONS | {"channels": 3}))
    assert (len(data.train), len(data.val), len(data.test)) == (18, 6, 12)
    assert data.meta.input_shape == (3, 16, 16) and len(data.meta.channel_mean) == 3


def test_folders_that_cannot_be_a_data_set_say_why(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_image_folder("mine", str(tmp_path / "missing"), seed=0, **OPTIONS)
    (tmp_path / "one" / "only_class").mkdir(parents=True)
    with pytest.raises(DataError, match="at least two"):
        load_image_folder("mine", str(tmp_path / "one"), seed=0, **OPTIONS)


def test_a_folder_too_small_to_split_by_class_says_so(tmp_path):
    root = write_image_folder(tmp_path / "small", per_class=3)
    with pytest.raises(DataError, match=r"cannot hold out .* of 6 images per class .*classes"):
        load_image_folder("mine", str(root), seed=0, **OPTIONS)
