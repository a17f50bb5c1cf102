"""The stored study: n_trials counted across processes, trials of a dead sweep asked
again, a study of the other direction refused, unknown pruners named."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from ml_experiments.errors import ConfigError
from ml_experiments.tuning import study as studies

SPACE = {"lr": FloatDistribution(0.001, 0.1, log=True)}


def open_study(tmp_path, direction: str = "minimize") -> optuna.Study:
    storage = studies.storage_for(f"sqlite:///{tmp_path}/optuna.db")
    study = studies.open_study("unit", storage, [direction], optuna.pruners.NopPruner())
    study.sampler = optuna.samplers.RandomSampler(seed=0)
    return study


def test_n_trials_counts_the_trials_of_every_process(tmp_path):
    first, second = open_study(tmp_path), open_study(tmp_path)  # two sweeps, one study
    one = studies.ask_within(first, 3, SPACE)
    two = studies.ask_within(second, 3, SPACE)
    first.tell(one, 1.0)
    three = studies.ask_within(first, 3, SPACE)
    assert three is not None
    assert studies.ask_within(second, 3, SPACE) is None  # two running, one complete
    second.tell(two, 2.0)
    assert studies.ask_within(first, 4, SPACE) is not None  # a larger n_trials continues


def test_a_trial_whose_sweep_died_is_failed_and_asked_again(tmp_path):
    study = open_study(tmp_path)
    trial = studies.ask_within(study, 2, SPACE)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    trial.set_user_attr(studies.PID, int(dead.stdout))  # as if that process had asked it

    studies.retry_abandoned_trials(study)
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    assert trials[1].state == TrialState.WAITING
    assert trials[1].system_attrs["fixed_params"] == trial.params  # queued with them
    assert trials[1].user_attrs["retry_of"] == 0
    assert [t.number for t in studies.counted_trials(study)] == [1]
    again = studies.ask_within(study, 2, SPACE)
    assert again.number == 1 and again.params == trial.params  # the queued retry first


def test_a_running_trial_of_a_live_sweep_is_left_alone(tmp_path):
    study = open_study(tmp_path)
    studies.ask_within(study, 2, SPACE)  # this process: alive
    studies.retry_abandoned_trials(study)
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING]


def test_a_study_of_the_other_direction_is_refused(tmp_path):
    open_study(tmp_path, "minimize")
    with pytest.raises(ConfigError, match="'unit' .* minimizes, this sweep maximizes.*study_name"):
        open_study(tmp_path, "maximize")


def test_an_unknown_pruner_is_named_with_the_known_ones():
    with pytest.raises(
        ConfigError, match="pruner=medain is not a pruner; choose one of none, median"
    ):
        studies.make_pruner("medain")
