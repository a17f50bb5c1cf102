"""MNIST time to 99% test accuracy: `mnist_cnn` through the real entry point versus the
pytorch/examples MNIST recipe, both on this machine, side by side.

    python bench/mnist.py [--seeds 3] [--baseline-repeats 1]

`mnist_cnn` is timed from launch to exit of `python -m ml_experiments.train` (imports,
MLflow logging, figures and model upload included). The baseline is the recipe of
github.com/pytorch/examples/blob/main/mnist/main.py (2 conv + 2 FC, Adadelta lr 1.0,
StepLR gamma 0.7, batch 64, ToTensor + Normalize through a DataLoader), timed from
its first line to the end of the first epoch whose test accuracy reaches 99.0%.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import data_dir, latest_run, median, scratch_store, train, write_results
from torch import nn

TARGET = 0.99


class ExamplesNet(nn.Module):
    """The network of pytorch/examples mnist/main.py, unchanged."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def examples_recipe(seed: int, max_epochs: int = 14) -> tuple[float, int, float]:
    """(seconds to reach TARGET, epochs, accuracy) for the pytorch/examples recipe."""
    from torchvision import datasets, transforms

    started = time.perf_counter()
    torch.manual_seed(seed)
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    root = str(data_dir())
    train_set = datasets.MNIST(root, train=True, download=False, transform=transform)
    test_set = datasets.MNIST(root, train=False, download=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
    model = ExamplesNet()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, max_epochs + 1):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            F.nll_loss(model(images), labels).backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            correct = sum(
                (model(images).argmax(1) == labels).sum().item() for images, labels in test_loader
            )
        accuracy = correct / len(test_set)
        print(f"  examples recipe epoch {epoch}: test acc {accuracy:.4f}", flush=True)
        if accuracy >= TARGET:
            return time.perf_counter() - started, epoch, accuracy
    raise RuntimeError(f"the examples recipe did not reach {TARGET} in {max_epochs} epochs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--baseline-repeats", type=int, default=1)
    args = parser.parse_args()

    scratch, store = scratch_store("mnist")
    ours = []
    for seed in range(args.seeds):
        seconds = train(["experiment=mnist_cnn", f"seed={seed}"], store, scratch)
        run = latest_run(store, "mnist_cnn")
        accuracy = run.data.metrics["test/acc"]
        epochs = int(run.data.params["trainer.max_epochs"])
        ours.append((seconds, accuracy, epochs))
        print(f"mnist_cnn seed {seed}: {accuracy:.4f} test acc in {seconds:.1f} s", flush=True)

    baseline = []
    for seed in range(args.baseline_repeats):
        seconds, epochs, accuracy = examples_recipe(seed)
        baseline.append((seconds, accuracy, epochs))
        print(f"examples recipe seed {seed}: {accuracy:.4f} after {epochs} epochs, {seconds:.1f} s")

    our_time, base_time = median([r[0] for r in ours]), median([r[0] for r in baseline])
    rows = "\n".join(
        f"| {name} | {seed} | {acc:.2%} | {epochs} | {seconds:.1f} |"
        for name, results in (("`mnist_cnn`", ours), ("pytorch/examples recipe", baseline))
        for seed, (seconds, acc, epochs) in enumerate(results)
    )
    body = f"""| recipe | seed | test accuracy | epochs | seconds |
|---|---|---|---|---|
{rows}

| | median test accuracy | median seconds to 99% |
|---|---|---|
| `mnist_cnn` (launch to exit, logging included) | {median([r[1] for r in ours]):.2%} | {our_time:.1f} |
| pytorch/examples recipe (training + evaluation only) | {median([r[1] for r in baseline]):.2%} | {base_time:.1f} |

`mnist_cnn` reaches 99% **{base_time / our_time:.1f}x faster** than the pytorch/examples
recipe on this machine. The examples recipe is stopped at the first epoch whose test
accuracy reaches 99%; `mnist_cnn` runs its fixed {ours[0][2]} epochs and reports the
test accuracy of its best validation epoch."""
    write_results("mnist", "MNIST: time to 99% test accuracy", body)


if __name__ == "__main__":
    main()
