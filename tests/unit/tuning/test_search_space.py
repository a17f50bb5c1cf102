"""Hydra's sweep syntax read as Optuna distributions, and grids in Hydra's order."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ml_experiments.errors import ConfigError
from ml_experiments.optuna_sweeper import _as_override
from ml_experiments.tuning.search_space import grid_points, parse


@pytest.mark.parametrize(
    "argument, expected",
    [
        ("k=tag(log, interval(0.001, 0.1))", FloatDistribution(0.001, 0.1, log=True)),
        ("k=interval(0, 0.5)", FloatDistribution(0.0, 0.5)),
        ("k=int(interval(16, 256))", IntDistribution(16, 256)),
        ("k=tag(log, int(interval(1, 100)))", IntDistribution(1, 100, log=True)),
        ("k=range(1, 5)", IntDistribution(1, 4)),  # Hydra's range leaves out its stop
        ("k=range(0, 10, 3)", IntDistribution(0, 9, step=3)),
        ("k=range(0.5, 2.5, 0.5)", FloatDistribution(0.5, 2.0, step=0.5)),
        ("k=choice(32, 64)", CategoricalDistribution([32, 64])),
        ("k=32,64", CategoricalDistribution([32, 64])),
        ("k=choice(adam, sgd)", CategoricalDistribution(["adam", "sgd"])),
        ("k=[64],[128,64]", CategoricalDistribution(["[64]", "[128,64]"])),
    ],
)
def test_each_sweep_becomes_its_distribution(argument, expected):
    searched, fixed = parse([argument])
    assert searched == {"k": expected} and fixed == {}


def test_fixed_values_stay_fixed_and_a_later_value_wins():
    searched, fixed = parse(["a=choice(1, 2)", "b=3", "a=5", "c=interval(0, 1)"])
    assert list(searched) == ["c"] and fixed == {"a": "5", "b": "3"}


def test_a_grid_runs_in_hydras_order():
    searched, _ = parse(["group=file1,file2", "bar=range(100, 400, 100)"])
    assert grid_points(searched) == [
        {"group": "file1", "bar": 100},
        {"group": "file1", "bar": 200},
        {"group": "file1", "bar": 300},
        {"group": "file2", "bar": 100},
        {"group": "file2", "bar": 200},
        {"group": "file2", "bar": 300},
    ]


def test_a_float_grid_shows_round_values():
    searched, _ = parse(["lr=range(0.1, 0.35, 0.1)"])
    assert [point["lr"] for point in grid_points(searched)] == [0.1, 0.2, 0.3]


def test_a_grid_over_an_interval_says_what_to_use_instead():
    searched, _ = parse(["lr=interval(0.1, 0.4)"])
    with pytest.raises(ConfigError, match=r"lr: the grid sampler needs a finite set.*choice"):
        grid_points(searched)


@pytest.mark.parametrize(
    "value, override",
    [
        (None, "null"),
        (True, "true"),
        (0.001, "0.001"),
        ("adam", "adam"),
        ("[128,64]", "[128,64]"),  # a list chosen from: stays a list
        ("a,b", "'a,b'"),  # a comma would make the job a sweep again
        ("it's", "'it\\'s'"),
    ],
)
def test_a_trial_value_becomes_an_override_that_reads_back_as_itself(value, override):
    assert _as_override(value) == override
