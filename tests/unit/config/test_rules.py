"""Rules across keys, on configs composed from conf/ as a command would compose them."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from ml_experiments.config.rules import check_config
from ml_experiments.config.store import register_configs
from ml_experiments.errors import ConfigError
from tests.helpers.running import PROJECT_ROOT


def composed(*overrides: str):
    register_configs()
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base=None):
        return compose("config", overrides=["paths.run_dir=/tmp/run", *overrides])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["scheduler=step", "scheduler.gamma=-1"], "scheduler.gamma=-1.0 would make the"),
        (["scheduler=step", "scheduler.gamma=0"], "scheduler.gamma=0.0 would make the"),
        (["scheduler=linear", "scheduler.end_factor=-0.5"], "scheduler.end_factor=-0.5 would"),
        (["scheduler=cosine", "scheduler.eta_min=-1e-3"], "scheduler.eta_min=-0.001 would"),
        (["scheduler=onecycle", "scheduler.max_lr=-1"], "scheduler.max_lr=-1.0 would"),
        (["scheduler=plateau", "scheduler.factor=0"], "scheduler.factor=0.0 would"),
        (["scheduler=step", "scheduler.warmup_start_factor=0"], "warmup_start_factor=0.0"),
        (["trainer.max_loss_growth=0.5"], "trainer.max_loss_growth must be null or above 1"),
    ],
)
def test_a_schedule_that_makes_the_learning_rate_negative_or_zero_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        check_config(composed(*overrides))


def test_a_decay_to_zero_at_its_end_is_allowed():
    check_config(composed("scheduler=linear", "scheduler.end_factor=0"))
    check_config(composed("scheduler=cosine", "scheduler.eta_min=0"))
