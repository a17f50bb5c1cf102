"""The engine's parts on small tensors: metrics, schedules, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from sklearn import metrics as sk

from ml_experiments.config import register_configs
from ml_experiments.engine import checkpoint
from ml_experiments.engine.metrics import classification_metrics, regression_metrics
from ml_experiments.engine.schedules import build_schedule
from ml_experiments.errors import CheckpointError

from .conftest import PROJECT_ROOT

register_configs()


def scheduler_config(option: str, *overrides: str):
    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"scheduler={option}", *overrides])
    return cfg.scheduler


def test_classification_metrics_agree_with_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 4, generator=generator)
    targets = torch.randint(0, 4, (200,), generator=generator)
    ours = classification_metrics(logits, targets)
    predicted = logits.argmax(1).numpy()
    assert ours["acc"] == pytest.approx(sk.accuracy_score(targets, predicted))
    assert ours["f1_macro"] == pytest.approx(sk.f1_score(targets, predicted, average="macro"))
    probabilities = torch.softmax(logits, 1).numpy()
    assert ours["loss"] == pytest.approx(
        sk.log_loss(targets, probabilities, labels=range(4)), rel=1e-5
    )


def test_regression_metrics_agree_with_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    targets = torch.randn(100, generator=generator) * 5 + 20
    predictions = targets + torch.randn(100, generator=generator)
    ours = regression_metrics(predictions, targets)
    assert ours["rmse"] == pytest.approx(
        math.sqrt(sk.mean_squared_error(targets, predictions)), rel=1e-5
    )
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error(targets, predictions), rel=1e-5)
    assert ours["r2"] == pytest.approx(sk.r2_score(targets, predictions), rel=1e-5)


def learning_rates(scheduler_node, epochs: int, steps: int) -> list[float]:
    """The learning rate used in every epoch's first step."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = build_schedule(scheduler_node, optimizer, max_epochs=epochs, steps_per_epoch=steps)
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        for _ in range(steps):
            optimizer.step()
            schedule.after_batch()
        schedule.after_epoch(0.0)
    return rates


def test_linear_warmup_then_cosine():
    rates = learning_rates(scheduler_config("cosine", "scheduler.warmup_epochs=2"), 6, 3)
    assert rates[0] == pytest.approx(0.1)  # warmup_start_factor
    assert rates[1] == pytest.approx(0.55)
    assert rates[2] == pytest.approx(1.0)  # warmup done, cosine starts at the base rate
    assert rates[2] > rates[3] > rates[4] > rates[5] > 0


def test_warmup_alone_holds_the_rate_afterwards():
    rates = learning_rates(scheduler_config("none", "scheduler.warmup_epochs=2"), 5, 2)
    assert rates == pytest.approx([0.1, 0.55, 1.0, 1.0, 1.0])


def test_onecycle_steps_every_batch_and_peaks_at_max_lr():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    schedule = build_schedule(
        scheduler_config("onecycle"), optimizer, max_epochs=4, steps_per_epoch=10
    )
    seen = []
    for _ in range(40):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.after_batch()
    assert max(seen) == pytest.approx(0.5)
    assert seen[0] == pytest.approx(0.5 / 25) and seen[-1] < seen[0]


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


def test_store_credentials_are_not_logged():
    from ml_experiments.tracking import artifact_root_for, without_credentials

    assert without_credentials("postgresql://me:secret@db:5432/mlflow") == (
        "postgresql://***@db:5432/mlflow"
    )
    assert without_credentials("sqlite:////tmp/m.db") == "sqlite:////tmp/m.db"
    # A relative SQLite path is resolved against the working directory, as MLflow does.
    assert artifact_root_for("sqlite:///rel/m.db", "/out").startswith("file:///")
    assert artifact_root_for("postgresql://db/mlflow", "/out") == "file:///out/mlartifacts"
    assert artifact_root_for("http://127.0.0.1:5000", "/out") is None


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
