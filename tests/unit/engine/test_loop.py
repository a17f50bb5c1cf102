"""The training loop on small tensors: gradient accumulation and class weights."""

from __future__ import annotations

import torch

from ml_experiments.config.schemas import ClassWeight, Modality, Task
from ml_experiments.data import DataBundle, DatasetMeta
from tests.helpers.data_files import text_bundle


def make_trainer(
    batch_size: int, accumulate: int, examples: int = 8, min_epoch_examples: int | None = None
):
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
        checkpoint=SimpleNamespace(dir="unused"), max_loss_growth=None,
        min_epoch_examples=min_epoch_examples,
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    trainer = Trainer(model, data, optimizer, LrSchedule(None, "step"), settings,
                      torch.device("cpu"), 0, lambda *_: None, {"run_id": "r"})  # fmt: skip
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


def test_a_small_split_is_gone_through_until_an_epoch_has_min_epoch_examples():
    """8 examples and min_epoch_examples=36: 5 passes, 40 examples, 5 steps of 8; the
    schedule's count of steps agrees with the loop's."""
    from ml_experiments.engine.loop import optimizer_steps_in_epoch

    once, once_steps = make_trainer(batch_size=8, accumulate=1)
    once.train_one_epoch(1)
    repeated, repeated_steps = make_trainer(batch_size=8, accumulate=1, min_epoch_examples=36)
    repeated.train_one_epoch(1)
    assert (len(once_steps), len(repeated_steps)) == (1, 5)
    assert optimizer_steps_in_epoch(repeated.data.train, repeated.settings) == 5
    more, _ = make_trainer(batch_size=8, accumulate=1, examples=64, min_epoch_examples=36)
    assert optimizer_steps_in_epoch(more.data.train, more.settings) == 8  # already enough


def test_balanced_class_weights_follow_the_training_labels():
    from ml_experiments.engine.loop import _class_weights

    data = text_bundle(["x"] * 4, ["x"], ["x"])
    data.train.y = torch.tensor([0, 0, 0, 1])
    weights = _class_weights(data, ClassWeight.balanced)
    torch.testing.assert_close(weights, torch.tensor([4 / 6, 4 / 2]))
    assert _class_weights(data, None) is None


def test_a_loss_that_grows_by_orders_of_magnitude_ends_training():
    """SGD at lr=1e4 on a small classifier: the loss stays finite but explodes."""
    import pytest

    from ml_experiments.errors import TrainingDiverged

    trainer, _ = make_trainer(batch_size=2, accumulate=1)
    trainer.settings.max_loss_growth = 100.0
    trainer.optimizer.param_groups[0]["lr"] = 1e4
    with pytest.raises(TrainingDiverged, match=r"train/loss grew from .* trainer.max_loss_growth"):
        trainer.train_one_epoch(1)
    assert trainer.state.first_loss is not None


def test_each_run_writes_checkpoints_in_its_own_folder():
    trainer, _ = make_trainer(batch_size=8, accumulate=1)
    assert trainer.checkpoint_dir.parts[-2:] == ("unused", "r")
