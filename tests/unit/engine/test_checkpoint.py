"""Checkpoints: plain dicts loading with weights_only, atomic saves, random states, and the
options a resume must keep."""

from __future__ import annotations

import pytest
import torch

from ml_experiments.config import register_configs
from ml_experiments.engine import checkpoint
from ml_experiments.errors import CheckpointError

register_configs()


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    state = {"model": {"w": torch.ones(3)}, "epoch": 4, "history": {"val/loss": [1.0, 0.5]}}
    path = tmp_path / "deep" / "last.pt"
    checkpoint.save_atomically(state, path)
    loaded = checkpoint.load(path)
    assert loaded["epoch"] == 4 and torch.equal(loaded["model"]["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save_atomically({"model": {}, "epoch": 1}, path)
    with pytest.raises((AttributeError, TypeError, RuntimeError)):  # a lambda cannot be pickled
        checkpoint.save_atomically({"model": {}, "epoch": 2, "bad": lambda: None}, path)
    assert checkpoint.load(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_torch_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(1)}, path)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        checkpoint.load(path)


def test_rng_state_round_trip_repeats_the_draws():
    generator = torch.Generator().manual_seed(3)
    saved = checkpoint.capture_rng_state(generator, torch.device("cpu"))
    first = (torch.rand(3), torch.randperm(5, generator=generator))
    checkpoint.restore_rng_state(saved, generator, torch.device("cpu"))
    second = (torch.rand(3), torch.randperm(5, generator=generator))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_resume_mismatches_name_each_changed_option():
    saved = {
        "seed": 1,
        "dataset": {"name": "d", "root": "/a"},
        "model": {"width": 8},
        "optimizer": {"lr": 0.1},
        "scheduler": {"_target_": None},
        "trainer": {"batch_size": 4, "max_epochs": 5},
    }
    now = {
        **saved,
        "dataset": {"name": "d", "root": "/b"},
        "trainer": {"batch_size": 8, "max_epochs": 9},
    }
    assert checkpoint.resume_mismatches(saved, now) == [
        "trainer.batch_size: 4 in the checkpoint, 8 now"
    ]
    cosine = {**now, "scheduler": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR"}}
    saved_cosine = {**saved, "scheduler": cosine["scheduler"]}
    assert "trainer.max_epochs: 5 in the checkpoint, 9 now" in checkpoint.resume_mismatches(
        saved_cosine, cosine
    )
