"""Framework overhead: the same model, data and batch size trained for a fixed number of
steps through `train.py` and through a bare PyTorch loop, in one script.

    python bench/overhead.py [--steps 300] [--repeats 3]

For `train.py` the time is its logged `time/train_seconds` (the training batches of
the epoch, as the bare loop times them); startup, validation and logging are left out
of both. Both sides draw batches from the same in-memory uint8 MNIST tensors, in the
same channels-last layout.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import latest_run, load_mnist, median, scratch_store, train, write_results

OVERRIDES = [
    "experiment=mnist_cnn",
    "trainer.max_epochs=1",
    "logger.log_model=false",
    "logger.log_figures=false",
    "trainer.checkpoint.enabled=false",
]


def bare_loop(steps: int, batch_size: int, seed: int) -> float:
    """Seconds for `steps` optimizer steps of mnist_cnn's model, written out by hand."""
    from ml_experiments.models.cnn import SimpleCNN

    torch.manual_seed(seed)
    data = load_mnist(seed)
    model = SimpleCNN(data.meta, channels=[16, 32], hidden=128, dropout=0.1)
    model.to(memory_format=torch.channels_last)  # the layout train.py uses for images
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.01, total_steps=steps)
    images, labels = data.train.x, data.train.y
    order = torch.randperm(len(labels))
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        index = order[step * batch_size : (step + 1) * batch_size]
        optimizer.zero_grad(set_to_none=True)
        inputs = (images[index].float() / 255).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(inputs), labels[index])
        loss.backward()
        optimizer.step()
        scheduler.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scratch, store = scratch_store("overhead")
    framework, bare = [], []
    for repeat in range(args.repeats):
        train(
            [*OVERRIDES, f"trainer.limit_train_batches={args.steps}", f"seed={repeat}"],
            store,
            scratch,
        )
        framework.append(latest_run(store, "mnist_cnn").data.metrics["time/train_seconds"])
        bare.append(bare_loop(args.steps, 128, repeat))
        print(f"repeat {repeat}: train.py {framework[-1]:.2f} s, bare loop {bare[-1]:.2f} s")
    ratio = median(framework) / median(bare)
    body = f"""{args.steps} steps of batch 128, `mnist_cnn`'s model, AdamW and one-cycle, {args.repeats} repeats.

| | median seconds | runs |
|---|---|---|
| through `train.py` | {median(framework):.2f} | {", ".join(f"{t:.2f}" for t in framework)} |
| bare PyTorch loop | {median(bare):.2f} | {", ".join(f"{t:.2f}" for t in bare)} |

`train.py` / bare loop = **{ratio:.3f}** ({(ratio - 1) * 100:+.1f}%)."""
    write_results(
        "overhead",
        "Framework overhead against a bare PyTorch loop",
        body,
    )


if __name__ == "__main__":
    main()
