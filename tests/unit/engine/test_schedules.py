"""Learning-rate schedules with warmup, stepped per epoch or per batch."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir

from ml_experiments.config import register_configs
from ml_experiments.engine.schedules import build_schedule
from tests.helpers.running import PROJECT_ROOT

register_configs()


def scheduler_config(option: str, *overrides: str):
    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"scheduler={option}", *overrides])
    return cfg.scheduler


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
