"""Small image data sets (MNIST, Fashion-MNIST, CIFAR-10) held whole in memory as uint8
tensors.

The files are read (or downloaded by torchvision) once; after that every batch is
sliced from memory, scaled to [0, 1], augmented and optionally resized on the
training device.
"""

from __future__ import annotations

import logging
import math
import pickle
import struct
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data.augment import AugmentSettings, augment
from ml_experiments.data.base import DataBundle, DatasetMeta, TensorSplit
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
    "cifar10": (
        "CIFAR10",
        "cifar-10-batches-py",
        [
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ],  # fmt: skip
    ),
}
CIFAR_FILES = {True: [f"data_batch_{number}" for number in range(1, 6)], False: ["test_batch"]}
# The globals a pickled numpy array may name, and nothing else: _reconstruct, ndarray and
# dtype are all that the official CIFAR-10 batches use (numpy 1.x wrote them under
# numpy.core, numpy 2.x writes numpy._core); scalar and _frombuffer appear in one's own
# files (numpy integers among the labels; pickle protocol 5). Each builds data only.
CIFAR_PICKLE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    *((f"numpy.{core}.multiarray", "_reconstruct") for core in ("core", "_core")),
    *((f"numpy.{core}.multiarray", "scalar") for core in ("core", "_core")),
    *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
}
# The IDX format (MNIST's; yann.lecun.com/exdb/mnist): type code in the magic's third byte
# -> bytes per value.
IDX_VALUE_SIZES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def load_torchvision_images(
    name: str,
    source: str,
    root: str,
    download: bool,
    val_size: int,
    train_subset: int | None,
    test_subset: int | None,
    resize: int | None,
    augment: dict,
    *,
    seed: int,
    verify_checksums: bool = True,
) -> DataBundle:
    """A torchvision image set as uint8 tensors, with a seeded validation split.

    `verify_checksums` checks CIFAR-10's files against the official MD5 sums.
    """
    class_name, folder, class_names = TORCHVISION_SETS[source]
    reader = partial(_read, class_name, folder, root, download, verify_checksums=verify_checksums)
    train_images, train_labels = reader(train=True)
    test_images, test_labels = reader(train=False)
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
    mean, std = channel_statistics(train.x)
    channels, height, width = train.x.shape[1:]
    meta = DatasetMeta(
        name=name,
        task=Task.classification,
        modality=Modality.image,
        # What the model sees: after the resize of each batch.
        input_shape=(channels, resize, resize) if resize else (channels, height, width),
        class_names=class_names,
        channel_mean=mean,
        channel_std=std,
        stored_shape=(channels, height, width) if resize else None,
    )
    settings = AugmentSettings(**augment)
    return DataBundle(
        train,
        TensorSplit(train_images[val_rows], train_labels[val_rows]),
        TensorSplit(test_images[test_rows], test_labels[test_rows]),
        meta,
        summary={"rows_used": len(train_rows) + len(val_rows) + len(test_rows)},
        prepare_batch=partial(prepare_images, settings=settings, resize=resize),
    )


def prepare_images(
    images: torch.Tensor, training: bool, settings: AugmentSettings, resize: int | None = None
) -> torch.Tensor:
    """uint8 pixels -> floats in [0, 1], augmented when training, resized when asked."""
    images = images.float().div_(255)
    if training and settings.active:
        images = augment(images, settings)
    if resize and images.shape[-1] != resize:
        images = F.interpolate(images, size=(resize, resize), mode="bilinear", antialias=False)
    return images


def _read(
    class_name: str, folder: str, root: str, download: bool, train: bool, verify_checksums: bool
):
    import torchvision

    if class_name == "CIFAR10":
        return _read_cifar(root, folder, download, train, verify_checksums)
    dataset_class = getattr(torchvision.datasets, class_name)
    location = Path(root) / folder / "raw"
    # torchvision takes a file that exists as a good one; a cut-short one would fail inside it.
    for kind in ("images-idx3", "labels-idx1"):
        file = location / f"{'train' if train else 't10k'}-{kind}-ubyte"
        if file.is_file():
            _check_idx_size(file)
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


def _check_idx_size(file: Path) -> None:
    """An IDX file must be as long as its header says: otherwise it is cut short or damaged."""
    size = file.stat().st_size
    expected = _idx_size_from_header(file)
    if expected == size:
        return
    found = (
        f"its header says {expected:,} bytes but it has {size:,}"
        if expected is not None
        else f"it has no IDX header ({size:,} bytes)"
    )
    raise DataError(
        f"{file} is damaged or truncated: {found}. Delete it and download it again "
        "(dataset.download=true), or copy it again from a good copy."
    )


def _idx_size_from_header(file: Path) -> int | None:
    """The file size an IDX header announces, or None when there is no valid header."""
    with file.open("rb") as handle:
        magic = handle.read(4)
        if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in IDX_VALUE_SIZES:
            return None
        dimensions = handle.read(4 * magic[3])
    if len(dimensions) < 4 * magic[3]:
        return None
    counts = struct.unpack(f">{magic[3]}I", dimensions)  # big-endian uint32 each
    return len(magic) + len(dimensions) + math.prod(counts) * IDX_VALUE_SIZES[magic[2]]


def channel_statistics(images: torch.Tensor) -> tuple[list[float], list[float]]:
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


def _read_cifar(root: str, folder: str, download: bool, train: bool, verify_checksums: bool):
    """CIFAR-10's pickled batches (data_batch_1..5, test_batch) as (N, 3, 32, 32) uint8.

    Read here rather than by torchvision's CIFAR10 class, which insists on the official
    files' MD5 sums (one's own files in this format skip them with verify_checksums=False)
    and unpickles without restriction; torchvision still downloads them when missing.
    """
    location = Path(root) / folder
    files = [location / name for name in CIFAR_FILES[train]]
    if download and not all(file.is_file() for file in files):
        import torchvision

        try:
            torchvision.datasets.CIFAR10(root=root, train=train, download=True)
        except (RuntimeError, OSError) as error:
            log.warning("CIFAR-10 download failed: %s", error)
    missing = [file.name for file in files if not file.is_file()]
    if missing:
        how = "it could not be downloaded" if download else "dataset.download=false"
        raise DataError(
            f"CIFAR-10 files {missing} not found in {location} and {how}. Put the python "
            "version's files (data_batch_1..5, test_batch, batches.meta from "
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz) there, or point "
            "paths.data_dir (or ML_EXPERIMENTS_DATA_DIR) at a folder that has them."
        )
    images, labels = [], []
    for file in files:
        if verify_checksums:
            _check_cifar_checksum(file)
        batch_images, batch_labels = _read_cifar_batch(file)
        images.append(batch_images)
        labels.extend(batch_labels)
    return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.long)


def _check_cifar_checksum(file: Path) -> None:
    """The file must be the official one: torchvision publishes each file's MD5 sum."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    official_md5 = dict(CIFAR10.train_list + CIFAR10.test_list)[file.name]
    if not check_integrity(file, official_md5):
        raise DataError(
            f"{file} is not the official CIFAR-10 file (its MD5 sum differs: damaged or "
            "changed). Delete it and download it again, or set dataset.verify_checksums=false "
            "if it is your own file in this format."
        )


def _read_cifar_batch(file: Path) -> tuple[np.ndarray, list[int]]:
    """One pickled batch: a dict of 'data' (N rows of 3072 uint8: R, G, B planes) and 'labels'."""
    try:
        with file.open("rb") as handle:
            batch = _CifarUnpickler(handle, file).load()
        images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = [int(label) for label in batch["labels"]]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as error:
        raise DataError(
            f"{file} is not a readable CIFAR-10 batch ({type(error).__name__}: {error}): "
            "download it again, or write a dict of 'data' (N x 3072 uint8) and 'labels'."
        ) from error
    return images, labels


class _CifarUnpickler(pickle.Unpickler):
    """Python's "Restricting Globals" recipe: a batch may build numpy arrays and nothing
    else, so a tampered file cannot run code while it is read."""

    def __init__(self, handle, file: Path):
        # latin1: the official files were pickled by Python 2 (its str -> str, as numpy needs).
        super().__init__(handle, encoding="latin1")
        self.file = file

    def find_class(self, module: str, name: str):
        if (module, name) in CIFAR_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise DataError(
            f"{self.file} asks to load {module}.{name}, which a CIFAR-10 batch never needs and "
            "which could run code: refused. Replace it with the official file (download again)."
        )
