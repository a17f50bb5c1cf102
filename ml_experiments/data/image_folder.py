"""A user's own images in torchvision's ImageFolder layout: one folder per class.

    <root>/<class>/<image>                    split here: seeded, stratified fractions
    <root>/train/<class>/<image>, test/...    the folder's own split; a missing val/
                                              (or test/) is carved from train/

Every image is read once, converted to grey or RGB, resized to `size` x `size` and
kept in memory as uint8; from there it takes the same batch pipeline as MNIST
(augmentation on the device, normalization with the training split's channel
statistics, the same figures). Files that cannot be read are skipped, named in the
log and counted in the run's `data/unreadable_files_skipped` param.
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
from ml_experiments.data.splits import held_out_split, split_indices
from ml_experiments.data.vision import channel_statistics, prepare_images
from ml_experiments.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SPLIT_FOLDERS = ("train", "val", "test")
SKIPPED_SHOWN = 10  # unreadable files named in the log; the rest are counted


def load_image_folder(
    name: str,
    root: str,
    size: int,
    channels: int,
    val_fraction: float,
    test_fraction: float,
    augment: dict,
    *,
    seed: int,
) -> DataBundle:
    """The images under `root` as a classification DataBundle (see the module docstring)."""
    if channels not in (1, 3) or size < 8:
        raise ConfigError(
            f"dataset.channels must be 1 (grey) or 3 (RGB), got {channels}; dataset.size "
            f"at least 8 pixels, got {size}"
        )
    folder = Path(root).expanduser()
    classes = _class_names(folder)
    shape = (channels, size, size)
    splits, skipped = _read_splits(folder, classes, shape, val_fraction, test_fraction, seed)
    train = splits["train"]
    mean, std = channel_statistics(train.x)
    meta = DatasetMeta(
        name=name,
        task=Task.classification,
        input_shape=shape,
        class_names=classes,
        channel_mean=mean,
        channel_std=std,
        modality=Modality.image,
    )
    summary = {"unreadable_files_skipped": skipped, "rows_used": sum(map(len, splits.values()))}
    log.info("%s: %s", name, ", ".join(f"{key}={value}" for key, value in summary.items()))
    settings = AugmentSettings(**augment)
    prepare = partial(prepare_images, settings=settings, resize=None)
    return DataBundle(train, splits["val"], splits["test"], meta, summary, prepare)


def _class_names(folder: Path) -> list[str]:
    """The class folders: of train/ when the root is split into folders, else of the root."""
    if not folder.is_dir():
        raise DataError(
            f"dataset.root={folder}: no such folder. Point it at a folder with one "
            "subfolder per class (or train/ and test/ folders that each have them)."
        )
    top = folder / "train" if (folder / "train").is_dir() else folder
    classes = sorted(path.name for path in top.iterdir() if path.is_dir())
    if len(classes) < 2:
        raise DataError(
            f"{top} has {len(classes)} class folder(s); a classifier needs at least two, "
            "one subfolder of images per class."
        )
    return classes


def _read_splits(folder: Path, classes, shape, val_fraction, test_fraction, seed):
    """{'train', 'val', 'test'} splits and the count of unreadable files skipped."""
    given = {split: folder / split for split in SPLIT_FOLDERS if (folder / split).is_dir()}
    pools = {split: read_class_folders(path, classes, shape) for split, path in given.items()}
    if not pools:
        pools = {"train": read_class_folders(folder, classes, shape)}
    skipped = sum(len(problems) for _, _, problems in pools.values())
    images, labels, _ = pools.pop("train")
    carve = {"val": val_fraction, "test": test_fraction}
    carve = {split: fraction for split, fraction in carve.items() if split not in pools}
    splits = _carved(images, labels, carve, seed)
    splits |= {split: TensorSplit(x, y) for split, (x, y, _) in pools.items()}
    return splits, skipped


def _carved(images, labels, fractions: dict[str, float], seed: int) -> dict[str, TensorSplit]:
    """Train, plus the held-out splits the folder lacks as seeded stratified fractions."""
    every, stratify = np.arange(len(labels)), labels.numpy()
    try:
        if len(fractions) == 2:
            train, val, test = split_indices(
                len(labels), fractions["val"], fractions["test"], seed, stratify
            )
            rows = {"train": train, "val": val, "test": test}
        elif fractions:
            [(split, fraction)] = fractions.items()
            train, held = held_out_split(every, fraction, seed, stratify)
            rows = {"train": np.sort(train), split: np.sort(held)}
        else:
            rows = {"train": every}
    except DataError as error:  # a class too small to stratify
        raise DataError(
            f"cannot hold out {fractions} of {len(labels)} images per class ({error}). Add "
            "images, or give the folder its own val/ and test/ subfolders."
        ) from error
    return {split: TensorSplit(images[r], labels[r]) for split, r in rows.items()}


def read_class_folders(folder: Path, classes: list[str], shape):
    """(images, labels, problems) of every image file under folder/<class>/."""
    unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in classes)
    if unknown:
        raise DataError(f"{folder} has class folders that train/ lacks: {unknown}")
    images, labels, problems = [], [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).rglob("*")) if (folder / name).is_dir() else []:
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                images.append(read_pixels(path, shape))
                labels.append(label)
            except DataError as error:
                problems.append(str(error))
    log_skipped(folder, problems)
    if not images:
        raise DataError(f"no readable images under {folder}/<class>/ (classes: {classes})")
    return torch.stack(images), torch.tensor(labels, dtype=torch.long), problems


def log_skipped(folder: Path, problems: list[str]) -> None:
    for problem in problems[:SKIPPED_SHOWN]:
        log.warning("skipped: %s", problem)
    if len(problems) > SKIPPED_SHOWN:
        hidden = len(problems) - SKIPPED_SHOWN
        log.warning("skipped %d more unreadable files in %s", hidden, folder)
