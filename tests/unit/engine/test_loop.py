"""The training loop on small tensors: gradient accumulation and class weights."""

from __future__ import annotations

import torch

from ml_experiments.config.schemas import ClassWeight, Modality, Task
from ml_experiments.data import DataBundle, DatasetMeta
from tests.helpers.data_files import text_bundle


def make_trainer(batch_size: int, accumulate: int, examples: int = 8):
    """A linear model's Trainer on `examples` fixed examples; every trainer made here
    shuffles them the same way (seed 0)."""
    from types import SimpleNamespace

    from ml_experiments.data import TensorSplit
    from ml_experiments.engine.loop import Trainer
    from ml_experiments.engine.schedules import LrSchedule

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    inputs, targets = torch.randn(examples, 3), torch.arange(examples) % 2
    split = TensorSplit(inputs, targets)
    data = DataBundle(
        split,
        split,
        split,
        DatasetMeta("t", Task.classification, (3,), ["a", "b"], modality=Modality.tabular),
    )
    settings = SimpleNamespace(
        batch_size=batch_size, accumulate_batches=accumulate, limit_train_batches=None,
        gradient_clip_norm=None, label_smoothing=0.0, class_weight=None, amp=False,
        channels_last=False, monitor="val/loss", progress_bar=False,
        checkpoint=SimpleNamespace(dir="unused"),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    trainer = Trainer(model, data, optimizer, LrSchedule(None, "step"), settings,
                      torch.device("cpu"), 0, lambda *_: None, {})  # fmt: skip
    steps = []
    original_step = optimizer.step
    optimizer.step = lambda *a, **k: (steps.append(1), original_step(*a, **k))[1]
    return trainer, steps


def test_gradient_accumulation_steps_once_per_group_on_the_mean_loss():
    """An epoch of 2 batches of 4 accumulated is one step, equal to one batch of 8; 5
    batches of 2 accumulated by 2 are 3 steps, the last on its single batch."""
    whole, whole_steps = make_trainer(batch_size=8, accumulate=1)
    whole.train_one_epoch(1)
    halves, half_steps = make_trainer(batch_size=4, accumulate=2)
    halves.train_one_epoch(1)
    assert whole_steps == half_steps == [1]
    torch.testing.assert_close(halves.model.weight, whole.model.weight)
    separate, separate_steps = make_trainer(batch_size=4, accumulate=1)
    separate.train_one_epoch(1)
    assert len(separate_steps) == 2
    assert not torch.equal(separate.model.weight, whole.model.weight)
    uneven, uneven_steps = make_trainer(batch_size=2, accumulate=2, examples=10)
    uneven.train_one_epoch(1)
    assert len(uneven_steps) == 3


def test_balanced_class_weights_follow_the_training_labels():
    from ml_experiments.engine.loop import _class_weights

    data = text_bundle(["x"] * 4, ["x"], ["x"])
    data.train.y = torch.tensor([0, 0, 0, 1])
    weights = _class_weights(data, ClassWeight.balanced)
    torch.testing.assert_close(weights, torch.tensor([4 / 6, 4 / 2]))
    assert _class_weights(data, None) is None
