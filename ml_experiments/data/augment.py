"""Batched image augmentation on tensors, on whatever device the batch lives on.

Each function takes a float batch (N, C, H, W) and draws one random choice per
image from torch's global generator (seeded per run and saved in checkpoints),
so there is no per-sample Python or PIL work and no worker process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentSettings:
    crop_padding: int = 0  # random crop of the original size from the zero-padded image
    flip: bool = False  # horizontal flip with probability 1/2
    erasing: float = 0.0  # probability of blanking one random rectangle
    rotate_degrees: float = 0.0  # random rotation in [-d, d]
    scale: float = 0.0  # random zoom in [1 - s, 1 + s]

    @property
    def active(self) -> bool:
        return bool(
            self.crop_padding or self.flip or self.erasing or self.rotate_degrees or self.scale
        )


def augment(images: torch.Tensor, settings: AugmentSettings) -> torch.Tensor:
    if settings.rotate_degrees or settings.scale:
        images = random_affine(images, settings.rotate_degrees, settings.scale)
    if settings.crop_padding:
        images = random_crop(images, settings.crop_padding)
    if settings.flip:
        images = random_flip(images)
    if settings.erasing:
        images = random_erasing(images, settings.erasing)
    return images


def random_crop(images: torch.Tensor, padding: int) -> torch.Tensor:
    """Shift each image by up to `padding` pixels in each direction, filling with zeros."""
    count, _, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    top = torch.randint(0, 2 * padding + 1, (count, 1), device=images.device)
    left = torch.randint(0, 2 * padding + 1, (count, 1), device=images.device)
    rows = (top + torch.arange(height, device=images.device))[:, :, None]  # (N, H, 1)
    columns = (left + torch.arange(width, device=images.device))[:, None, :]  # (N, 1, W)
    batch = torch.arange(count, device=images.device)[:, None, None]
    # Advanced indexing gives (N, H, W, C); put channels back in front.
    return padded.permute(0, 2, 3, 1)[batch, rows, columns].permute(0, 3, 1, 2).contiguous()


def random_flip(images: torch.Tensor) -> torch.Tensor:
    flipped = torch.rand(images.shape[0], device=images.device) < 0.5
    return torch.where(flipped[:, None, None, None], images.flip(-1), images)


def random_erasing(images: torch.Tensor, probability: float) -> torch.Tensor:
    """Blank one rectangle (2%-20% of the area, aspect 1/3-3) in a share of the images."""
    count, _, height, width = images.shape
    device = images.device
    area = torch.empty(count, device=device).uniform_(0.02, 0.2) * height * width
    aspect = torch.exp(torch.empty(count, device=device).uniform_(-math.log(3), math.log(3)))
    box_height = (area * aspect).sqrt().clamp(1, height)
    box_width = (area / aspect).sqrt().clamp(1, width)
    top = torch.rand(count, device=device) * (height - box_height)
    left = torch.rand(count, device=device) * (width - box_width)
    rows = torch.arange(height, device=device)[None, :, None]
    columns = torch.arange(width, device=device)[None, None, :]
    inside = (
        (rows >= top[:, None, None])
        & (rows < (top + box_height)[:, None, None])
        & (columns >= left[:, None, None])
        & (columns < (left + box_width)[:, None, None])
    )
    chosen = (torch.rand(count, device=device) < probability)[:, None, None]
    return images.masked_fill((inside & chosen)[:, None], 0.0)


def random_affine(images: torch.Tensor, degrees: float, scale: float) -> torch.Tensor:
    """Rotate by up to `degrees` and zoom by up to `scale`, one draw per image."""
    count = images.shape[0]
    device = images.device
    angle = torch.empty(count, device=device).uniform_(-degrees, degrees) * math.pi / 180
    zoom = torch.empty(count, device=device).uniform_(1 - scale, 1 + scale)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    zeros = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
