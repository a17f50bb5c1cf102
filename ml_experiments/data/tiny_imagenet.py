"""Tiny ImageNet (Stanford CS231n): 200 ImageNet classes, 64x64 colour images, read from
the folder its released zip unpacks to:

    <root>/wnids.txt                       the 200 class ids (WordNet ids), one a line
    <root>/words.txt                       WordNet id <tab> names, for every ImageNet id
    <root>/train/<wnid>/images/*.JPEG      500 labelled images per class
    <root>/val/images/*.JPEG               10,000 labelled images...
    <root>/val/val_annotations.txt         ...labelled here: file <tab> wnid <tab> box
    <root>/test/images/*.JPEG              10,000 images without labels: not used

The test split has no labels, so the released val/ images are the test split here and
validation is a seeded, stratified part of train/. Class names are the first name that
words.txt gives each id. The images are kept in memory as uint8 at 64x64 (1.3 GB for
the whole set) and take the same batch pipeline as CIFAR-10: `resize` enlarges each
batch on the device for ImageNet-pretrained networks.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data.augment import AugmentSettings
from ml_experiments.data.base import DataBundle, DatasetMeta, TensorSplit
from ml_experiments.data.image_files import IMAGE_SUFFIXES, read_pixels
from ml_experiments.data.image_folder import log_skipped, read_class_folders
from ml_experiments.data.splits import held_out_split
from ml_experiments.data.vision import channel_statistics, prepare_images
from ml_experiments.errors import DataError

log = logging.getLogger(__name__)

SIZE = 64
LAYOUT = (
    "wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG and "
    "val/val_annotations.txt (the folder tiny-imagenet-200.zip unpacks to, from "
    "http://cs231n.stanford.edu/tiny-imagenet-200.zip)"
)


def load_tiny_imagenet(
    name: str,
    root: str,
    val_fraction: float,
    train_subset: int | None,
    test_subset: int | None,
    resize: int | None,
    augment: dict,
    *,
    seed: int,
) -> DataBundle:
    """Tiny ImageNet as a classification DataBundle (see the module docstring)."""
    folder = Path(root).expanduser()
    _check_layout(folder)
    wnids = _lines(folder / "wnids.txt")
    shape = (3, SIZE, SIZE)
    images, labels, problems = read_class_folders(folder / "train", wnids, shape)
    splits = _train_and_validation(images, labels, val_fraction, train_subset, seed)
    test_images, test_labels, test_problems = _read_annotated(folder / "val", wnids, shape)
    test_rows = _sample(len(test_labels), test_subset, seed=0)  # the same for every seed
    splits["test"] = TensorSplit(test_images[test_rows], test_labels[test_rows])
    mean, std = channel_statistics(splits["train"].x)
    meta = DatasetMeta(
        name=name,
        task=Task.classification,
        modality=Modality.image,
        input_shape=(3, resize, resize) if resize else shape,  # what the model sees
        class_names=_class_names(folder / "words.txt", wnids),
        channel_mean=mean,
        channel_std=std,
        stored_shape=shape if resize else None,
    )
    summary = {
        "unreadable_files_skipped": len(problems) + len(test_problems),
        "rows_used": sum(len(split) for split in splits.values()),
    }
    prepare = partial(prepare_images, settings=AugmentSettings(**augment), resize=resize)
    return DataBundle(splits["train"], splits["val"], splits["test"], meta, summary, prepare)


def _check_layout(folder: Path) -> None:
    expected = ["wnids.txt", "words.txt", "train", "val/images", "val/val_annotations.txt"]
    missing = [part for part in expected if not (folder / part).exists()]
    if missing:
        raise DataError(
            f"dataset.root={folder} is not a Tiny ImageNet folder: it lacks {', '.join(missing)}."
            f" Expected {LAYOUT}."
        )


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _class_names(words: Path, wnids: list[str]) -> list[str]:
    """The first name words.txt gives each id ("n01443537\tgoldfish, Carassius auratus"
    -> "goldfish"); an id it lacks, or a name that two ids share, keeps its id beside."""
    names = {}
    for line in words.read_text().splitlines():
        wnid, _, synonyms = line.partition("\t")
        names[wnid.strip()] = synonyms.split(",")[0].strip()
    first = [names.get(wnid) or wnid for wnid in wnids]
    shared = {name for name in first if first.count(name) > 1}
    return [
        f"{name} ({wnid})" if name in shared else name
        for name, wnid in zip(first, wnids, strict=True)
    ]


def _train_and_validation(images, labels, val_fraction, train_subset, seed):
    """A seeded, stratified validation split out of train/, and a seeded training subset."""
    rows = np.arange(len(labels))
    train, val = held_out_split(rows, val_fraction, seed, stratify=labels.numpy())
    train = np.sort(train)[_sample(len(train), train_subset, seed)]
    return {
        "train": TensorSplit(images[train], labels[train]),
        "val": TensorSplit(images[np.sort(val)], labels[np.sort(val)]),
    }


def _sample(count: int, subset: int | None, seed: int) -> np.ndarray:
    """Rows 0..count-1, or a seeded sample of `subset` of them, in order."""
    if subset is None or subset >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=subset, replace=False))


def _read_annotated(folder: Path, wnids: list[str], shape):
    """val/: the images that val_annotations.txt labels with one of `wnids`."""
    label_of = {wnid: index for index, wnid in enumerate(wnids)}
    images, labels, problems = [], [], []
    for line in _lines(folder / "val_annotations.txt"):
        file, wnid = line.split("\t")[:2]
        path = folder / "images" / file
        if wnid not in label_of:
            raise DataError(f"{folder / 'val_annotations.txt'}: {file} has class {wnid}, "
                            "which wnids.txt does not list")  # fmt: skip
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            images.append(read_pixels(path, shape))
            labels.append(label_of[wnid])
        except DataError as error:
            problems.append(str(error))
    log_skipped(folder, problems)
    if not images:
        raise DataError(f"no readable labelled images in {folder / 'images'}. Expected {LAYOUT}.")
    return torch.stack(images), torch.tensor(labels, dtype=torch.long), problems
