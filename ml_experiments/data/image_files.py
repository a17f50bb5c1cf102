"""Image files (PNG, JPEG, ...) turned into tensors the way the training images were."""

from __future__ import annotations

from pathlib import Path

import torch

from ml_experiments.data.base import DatasetMeta
from ml_experiments.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def find_images(inputs: str) -> list[Path]:
    """One image file, or every image file in a folder (sorted)."""
    path = Path(inputs)
    if not path.exists():
        raise DataError(f"inputs={inputs}: no such file or folder")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(
            f"no image files in {path} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return files


def load_image(path: Path, shape: tuple[int, int, int], invert: str) -> torch.Tensor:
    """An image as a (C, H, W) float tensor in [0, 1], resized to the training size.

    MNIST-style sets are light strokes on a dark background. A photo or scan of dark
    ink on white paper is inverted to match: always (`invert=always`), never
    (`invert=never`), or when it is grey and its border is mostly light (`invert=auto`).
    """
    channels = shape[0]
    tensor = read_pixels(path, shape).float() / 255
    # Colour photos (CIFAR-10) are never inverted on a guess: only grey strokes are.
    guess = invert == "auto" and channels == 1 and _border_mean(tensor) > 0.5
    if invert == "always" or guess:
        tensor = 1 - tensor
    return tensor


def kept_shape(meta: DatasetMeta) -> tuple[int, ...]:
    """The size the training images were kept at: new images are read at it first."""
    return meta.stored_shape or meta.input_shape


def batch_as_trained(images: list[torch.Tensor], meta: DatasetMeta) -> torch.Tensor:
    """Images read at `kept_shape`, stacked and resized to the model's input as every
    training batch was."""
    import torch.nn.functional as F

    batch = torch.stack(images)
    if kept_shape(meta) != meta.input_shape:
        batch = F.interpolate(batch, size=meta.input_shape[1:], mode="bilinear", antialias=False)
    return batch


def read_pixels(path: Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file as (C, H, W) uint8 pixels: grey or RGB as `shape` says, resized to it."""
    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as an image: {error}") from error
    return pixels.reshape(height, width, channels).permute(2, 0, 1)


def _border_mean(image: torch.Tensor) -> float:
    border = torch.cat([image[:, 0, :], image[:, -1, :], image[:, :, 0], image[:, :, -1]], dim=1)
    return border.mean().item()
