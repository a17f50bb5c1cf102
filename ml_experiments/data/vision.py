"""Small image data sets (MNIST, Fashion-MNIST) held whole in memory as uint8 tensors.

torchvision reads (or downloads) the files once; after that every batch is
sliced from memory, scaled to [0, 1] and augmented on the training device.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import torch

from ml_experiments.data.augment import AugmentSettings, augment
from ml_experiments.data.base import CLASSIFICATION, DataBundle, DatasetMeta, TensorSplit
from ml_experiments.errors import DataError

log = logging.getLogger(__name__)

# Option name -> (torchvision class name, folder under the data directory, class names).
TORCHVISION_SETS = {
    "mnist": ("MNIST", "MNIST", [str(digit) for digit in range(10)]),
    "fashion_mnist": (
        "FashionMNIST",
        "FashionMNIST",
        [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
    ),
}


def load_torchvision_images(
    name: str,
    source: str,
    root: str,
    download: bool,
    val_size: int,
    train_subset: int | None,
    test_subset: int | None,
    augment: dict,
    *,
    seed: int,
) -> DataBundle:
    """A torchvision image set as uint8 tensors, with a seeded validation split."""
    class_name, folder, class_names = TORCHVISION_SETS[source]
    train_images, train_labels = _read(class_name, folder, root, download, train=True)
    test_images, test_labels = _read(class_name, folder, root, download, train=False)
    if val_size >= len(train_labels):
        raise DataError(
            f"dataset.val_size={val_size} leaves no training images out of {len(train_labels)}"
        )
    order = torch.randperm(len(train_labels), generator=torch.Generator().manual_seed(seed))
    val_rows, train_rows = order[:val_size], order[val_size:]
    if train_subset is not None:
        train_rows = train_rows[:train_subset]  # already shuffled: a random subset
    test_rows = torch.arange(len(test_labels))
    if test_subset is not None:
        test_rows = test_rows[
            torch.randperm(len(test_labels), generator=torch.Generator().manual_seed(seed))[
                :test_subset
            ]
        ]
    train = TensorSplit(train_images[train_rows], train_labels[train_rows])
    mean, std = _channel_statistics(train.x)
    meta = DatasetMeta(
        name=name,
        task=CLASSIFICATION,
        input_shape=tuple(train.x.shape[1:]),
        class_names=class_names,
        channel_mean=mean,
        channel_std=std,
    )
    settings = AugmentSettings(**augment)
    return DataBundle(
        train,
        TensorSplit(train_images[val_rows], train_labels[val_rows]),
        TensorSplit(test_images[test_rows], test_labels[test_rows]),
        meta,
        summary={"rows_used": len(train_rows) + len(val_rows) + len(test_rows)},
        prepare_batch=partial(prepare_images, settings=settings),
    )


def prepare_images(images: torch.Tensor, training: bool, settings: AugmentSettings) -> torch.Tensor:
    """uint8 pixels -> floats in [0, 1], augmented when training."""
    images = images.float().div_(255)
    if training and settings.active:
        images = augment(images, settings)
    return images


def _read(class_name: str, folder: str, root: str, download: bool, train: bool):
    import torchvision

    dataset_class = getattr(torchvision.datasets, class_name)
    location = Path(root) / folder / "raw"
    try:
        dataset = dataset_class(root=root, train=train, download=download)
    except (RuntimeError, OSError) as error:  # torchvision: "Dataset not found" or a failed fetch
        how = "it could not be downloaded" if download else "dataset.download=false"
        raise DataError(
            f"{class_name} not found in {location} and {how} ({str(error).splitlines()[0]}). "
            f"Put the four IDX files ({'train' if train else 't10k'}-images-idx3-ubyte, ...) "
            "there, or point the data directory at a folder that has them: "
            "paths.data_dir=/path/to/data or ML_EXPERIMENTS_DATA_DIR=/path/to/data."
        ) from error
    # (N, H, W) uint8 -> (N, 1, H, W): one channel, as the models expect.
    return dataset.data.unsqueeze(1).contiguous(), dataset.targets.long()


def _channel_statistics(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units, in chunks to bound memory."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for chunk in images.split(8192):
        pixels = chunk.double().div(255).transpose(0, 1).flatten(1)
        total += pixels.sum(1)
        squares += pixels.pow(2).sum(1)
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (squares / count - mean.pow(2)).sqrt()
    return mean.tolist(), std.tolist()
