"""Small files in real formats, written by the tests: CIFAR-10's pickled batches, MNIST's
IDX files, a tiny Hugging Face BERT folder, a ResNet18 state dict."""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DataBundle, DatasetMeta
from ml_experiments.data.text import TextSplit
from tests.helpers.kaggle_format import RELIABLE_WORDS, UNRELIABLE_WORDS

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"]  # fmt: skip
IMAGES_PER_BATCH = 20
BERT_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def cifar_batch(count: int, seed: int) -> dict:
    """A batch as CIFAR-10's python files hold it: rows of 3072 uint8 (R, G, B planes)."""
    rng = np.random.default_rng(seed)
    labels = [int(label) for label in rng.integers(0, 10, count)]
    colours = np.array([[label * 25, 255 - label * 25, (label * 70) % 256] for label in labels])
    planes = colours[:, :, None] + rng.integers(-10, 10, (count, 3, 1024))
    data = np.clip(planes, 0, 255).astype(np.uint8).reshape(count, 3072)
    return {"batch_label": f"batch {seed}", "labels": labels, "data": data,
            "filenames": [f"image_{seed}_{i}.png" for i in range(count)]}  # fmt: skip


def write_cifar(root: Path, dumps=pickle.dumps) -> Path:
    """`root/cifar-10-batches-py/`: five training batches, the test batch and the meta file,
    each batch pickled by `dumps` (python2_pickle: as the official files are). Their MD5 sums
    are not the official ones: read them with verify_checksums off."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    names = [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        (folder / name).write_bytes(dumps(cifar_batch(IMAGES_PER_BATCH, seed)))
    with (folder / "batches.meta").open("wb") as file:
        pickle.dump({"label_names": CIFAR_CLASSES, "num_vis": 3072}, file)
    return root


def python2_pickle(batch: dict) -> bytes:
    """`batch` pickled as CIFAR-10's official files were, by Python 2 and numpy 1.x:
    protocol 2, every text and bytes object (b"data", b"labels", the pixels) a Python 2
    str, and numpy.core's names."""
    stream = io.BytesIO()
    _Python2Pickler(stream, protocol=2).dump(batch)
    # Protocol 2 names globals as plain text lines; numpy 2 writes numpy._core.
    return stream.getvalue().replace(b"cnumpy._core.", b"cnumpy.core.")


class _Python2Pickler(pickle._Pickler):
    """Writes text and bytes with Python 2's str opcodes (Python 3 reads them back as str
    under encoding="latin1"); Python 3's own protocol 2 would call _codecs.encode."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_str(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)

    dispatch[bytes] = dispatch[str] = save_python2_str


def write_idx(path: Path, values: np.ndarray) -> Path:
    """An IDX file as MNIST's: magic (0, 0, uint8 type 0x08, dimensions), big-endian sizes,
    then the values."""
    header = bytes([0, 0, 0x08, values.ndim]) + struct.pack(f">{values.ndim}I", *values.shape)
    path.write_bytes(header + values.astype(np.uint8).tobytes())
    return path


def write_mnist(root: Path, train_count: int = 30, test_count: int = 10) -> Path:
    """`root/MNIST/raw/`: the four IDX files of random 28x28 digits."""
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train_count), ("t10k", test_count)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, count))
    return root


def write_tiny_bert(folder: Path) -> Path:
    """A 2-layer BERT with random weights and a word-level vocabulary, saved as a hub model
    folder is: config.json, model.safetensors and the tokenizer files."""
    import transformers

    words = sorted(set(f"{RELIABLE_WORDS} {UNRELIABLE_WORDS} story news article".split()))
    vocabulary = {token: index for index, token in enumerate(BERT_SPECIAL_TOKENS + words)}
    transformers.BertTokenizer(vocab=vocabulary).save_pretrained(folder)
    config = transformers.BertConfig(
        vocab_size=len(vocabulary), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    return folder


def write_resnet18_state_dict(path: Path) -> Path:
    """A local ResNet18 state dict, as a machine without internet would be given."""
    import torchvision

    torch.manual_seed(1)
    torch.save(torchvision.models.resnet18(num_classes=1000).state_dict(), path)
    return path


def text_bundle(train: list[str], val: list[str], test: list[str]) -> DataBundle:
    """A two-class bundle of raw texts, labelled 0, 1, 0, ... in each split."""

    def split(texts):
        return TextSplit(np.array(texts, dtype=object), torch.arange(len(texts)) % 2)

    meta = DatasetMeta("toy", Task.classification, (), ["a", "b"], modality=Modality.text)
    return DataBundle(split(train), split(val), split(test), meta)


def write_image_folder(root: Path, per_class: int = 12, layout: str = "flat") -> Path:
    """Two classes in torchvision's ImageFolder layout, as real PNG and JPEG files of
    varied sizes and modes: 'bright' (a light square on dark) and 'dark' (the reverse).
    `layout="split"` puts them under train/ and test/; every class folder also holds one
    file that is not an image."""
    from PIL import Image, ImageDraw

    folders = {"flat": {"": per_class}, "split": {"train": per_class, "test": per_class // 2}}
    for split, count in folders[layout].items():
        for name, (background, square) in {"bright": (20, 230), "dark": (230, 20)}.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                side = 20 + 4 * (index % 5)
                image = Image.new("L", (side, side + index % 3), background)
                ImageDraw.Draw(image).rectangle(
                    [side // 4, side // 4, side // 2, side // 2], square
                )
                suffix, mode = (".png", "L") if index % 2 else (".jpg", "RGB")
                image.convert(mode).save(folder / f"{name}_{index}{suffix}")
            (folder / "broken.png").write_text("not an image")
    return root


# Tiny ImageNet's layout, with three of its real class ids and their words.txt lines.
TINY_IMAGENET_CLASSES = {
    "n01443537": ("goldfish, Carassius auratus", (230, 120, 20)),
    "n01629819": ("European fire salamander, Salamandra salamandra", (20, 160, 40)),
    "n02124075": ("Egyptian cat", (40, 60, 220)),
}


def write_tiny_imagenet(root: Path, per_class: int = 10, val_per_class: int = 4) -> Path:
    """A small Tiny ImageNet folder in the released layout: 64x64 JPEGs, each class its
    own colour; words.txt with ids beyond wnids.txt; train/'s bounding-box files; val/
    labelled by val_annotations.txt (in an order that mixes the classes); test/ images
    without labels."""
    from PIL import Image

    root.mkdir(parents=True)
    wnids = list(TINY_IMAGENET_CLASSES)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    words = {"n00001740": "entity", **{wnid: w for wnid, (w, _) in TINY_IMAGENET_CLASSES.items()}}
    (root / "words.txt").write_text("".join(f"{wnid}\t{w}\n" for wnid, w in words.items()))

    def jpeg(path: Path, colour: tuple[int, int, int], index: int) -> None:
        shade = tuple(max(0, value - index) for value in colour)
        Image.new("RGB", (64, 64), shade).save(path, "JPEG")

    for wnid, (_, colour) in TINY_IMAGENET_CLASSES.items():
        images = root / "train" / wnid / "images"
        images.mkdir(parents=True)
        for index in range(per_class):
            jpeg(images / f"{wnid}_{index}.JPEG", colour, index)
        boxes = [f"{wnid}_{index}.JPEG\t0\t0\t63\t63" for index in range(per_class)]
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("\n".join(boxes) + "\n")
    (root / "val" / "images").mkdir(parents=True)
    annotations = []
    for index in range(val_per_class * len(wnids)):
        wnid = wnids[index % len(wnids)]
        jpeg(root / "val" / "images" / f"val_{index}.JPEG", TINY_IMAGENET_CLASSES[wnid][1], index)
        annotations.append(f"val_{index}.JPEG\t{wnid}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(annotations) + "\n")
    (root / "test" / "images").mkdir(parents=True)
    jpeg(root / "test" / "images" / "test_0.JPEG", (128, 128, 128), 0)
    return root
