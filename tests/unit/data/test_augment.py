"""Batch augmentation on the device: crop, flip, erasing and affine, in training only."""

from __future__ import annotations

import torch

from ml_experiments.data.augment import (
    AugmentSettings,
    random_affine,
    random_crop,
    random_erasing,
    random_flip,
)
from ml_experiments.data.vision import prepare_images


def ramp_images(count: int = 6) -> torch.Tensor:
    """Images whose every pixel is distinct, so any movement is visible."""
    return torch.arange(count * 4 * 5, dtype=torch.float32).reshape(count, 1, 4, 5) / 200


def _shift(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1))
    return padded[:, 1 + dy : 1 + dy + image.shape[1], 1 + dx : 1 + dx + image.shape[2]]


def test_crop_shifts_content_within_the_padding():
    images = ramp_images()
    torch.manual_seed(0)
    cropped = random_crop(images, padding=1)
    assert cropped.shape == images.shape
    for original, shifted in zip(images, cropped, strict=True):
        matches = [
            (dy, dx)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if torch.equal(_shift(original, dy, dx), shifted)
        ]
        assert matches, "every crop is the image moved by at most the padding"


def test_flip_mirrors_some_images_and_leaves_the_others():
    images = ramp_images(32)
    torch.manual_seed(0)
    flipped = random_flip(images)
    mirrored = [torch.equal(a.flip(-1), b) for a, b in zip(images, flipped, strict=True)]
    unchanged = [torch.equal(a, b) for a, b in zip(images, flipped, strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 4 < sum(mirrored) < 28


def test_erasing_blanks_a_rectangle_and_affine_keeps_shape_and_range():
    images = torch.ones(16, 1, 28, 28)
    torch.manual_seed(0)
    erased = random_erasing(images, probability=1.0)
    blank = (erased == 0).flatten(1).sum(1)
    assert (blank > 0).all() and (blank < 28 * 28 * 0.25).all()
    turned = random_affine(images, degrees=15, scale=0.1)
    assert turned.shape == images.shape and 0 <= turned.min() and turned.max() <= 1


def test_augmentation_only_in_training_and_repeatable_under_a_seed():
    pixels = (torch.rand(8, 1, 28, 28) * 255).to(torch.uint8)
    settings = AugmentSettings(crop_padding=2, flip=True, erasing=0.5, rotate_degrees=10)
    assert torch.equal(prepare_images(pixels, False, settings), pixels.float() / 255)
    outputs = []
    for _ in range(2):
        torch.manual_seed(5)
        outputs.append(prepare_images(pixels, True, settings))
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], pixels.float() / 255)
    assert 0 <= outputs[0].min() and outputs[0].max() <= 1
