"""Input pipeline throughput on MNIST: the in-memory batched pipeline (crop + flip on
tensors) versus torchvision's standard per-image transforms through a DataLoader.

    python bench/pipeline.py [--batches 200] [--repeats 3]

Only data is produced (no model), batch 128, the same augmentations on both sides.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import data_dir, load_mnist, median, write_results


def in_memory(batches: int, seed: int) -> float:
    from ml_experiments.data.augment import AugmentSettings
    from ml_experiments.data.vision import prepare_images

    data = load_mnist(seed)
    settings = AugmentSettings(crop_padding=2, flip=True)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for index, (images, _) in enumerate(data.train.batches(128, generator)):
        prepare_images(images, True, settings)
        if index + 1 == batches:
            break
    return batches / (time.perf_counter() - started)


def torchvision_loader(batches: int, workers: int, seed: int) -> float:
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    transform = transforms.Compose(
        [
            transforms.RandomCrop(28, padding=2),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize((0.1307,), (0.3081,)),
        ]
    )
    dataset = datasets.MNIST(str(data_dir()), train=True, download=False, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True, num_workers=workers)
    started = time.perf_counter()
    for index, _ in enumerate(loader):
        if index + 1 == batches:
            break
    return batches / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {
        "in-memory batched (this project)": [],
        "torchvision DataLoader, 0 workers": [],
        "torchvision DataLoader, 2 workers": [],
    }
    for repeat in range(args.repeats):
        results["in-memory batched (this project)"].append(in_memory(args.batches, repeat))
        results["torchvision DataLoader, 0 workers"].append(
            torchvision_loader(args.batches, 0, repeat)
        )
        results["torchvision DataLoader, 2 workers"].append(
            torchvision_loader(args.batches, 2, repeat)
        )
        print({name: f"{values[-1]:.0f}" for name, values in results.items()}, flush=True)
    ours = median(results["in-memory batched (this project)"])
    table = "\n".join(
        f"| {name} | {median(values):.0f} | {ours / median(values):.1f}x |"
        for name, values in results.items()
    )
    body = f"""Batches of 128 per second, random crop (padding 2) and horizontal flip, median of {args.repeats}.

| pipeline | batches/s | in-memory is faster by |
|---|---|---|
{table}"""
    write_results("pipeline", "Input pipeline throughput", body)


if __name__ == "__main__":
    main()
