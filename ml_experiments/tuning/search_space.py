"""Hydra's sweep syntax as an Optuna search space.

    optimizer.lr: tag(log, interval(0.001, 0.1))    float, log scale
    trainer.batch_size: choice(32, 64, 128)         categorical (also `32,64,128`)
    model.layers: range(1, 5)                       int 1..4 (Hydra's range: the stop is excluded)
    model.width: int(interval(16, 256))             int 16..256 (the end is included)
    model.dropout: interval(0.0, 0.5)               float
    seed: 3                                         fixed: the same in every trial

A shuffled range is categorical. Grid search needs a finite space: only choices and
ranges (`grid_points`).
"""

from __future__ import annotations

import itertools
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from ml_experiments.errors import ConfigError


def parse(arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
    """`key=value` strings -> (the searched keys' distributions, the fixed keys' values),
    both in the order given. A key given twice keeps its last value."""
    searched: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(arguments):
        key = override.get_key_element()
        searched.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            searched[key] = distribution(override)
        else:
            fixed[key] = override.get_value_element_as_str()
    return searched, fixed


def distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override."""
    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(_choices(override))
    if override.is_range_sweep():
        return _range(override, value.start, value.stop, value.step)
    if override.is_interval_sweep():
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    raise ConfigError(f"{override.input_line}: not a sweep Optuna can search")


def _choices(override: Override) -> list[Any]:
    choices = list(override.sweep_iterator(transformer=Transformer.encode))
    for choice in choices:
        if not isinstance(choice, (str, int, float, bool, type(None))):
            raise ConfigError(
                f"{override.input_line}: a choice must be a string, number, bool or null, "
                f"not {type(choice).__name__}; quote it to search it as a string"
            )
    return choices


def _range(override: Override, start, stop, step) -> BaseDistribution:
    values = list(override.sweep_iterator())
    if not values:
        raise ConfigError(f"{override.input_line}: the range is empty")
    if all(isinstance(item, int) for item in (start, stop, step)):
        return IntDistribution(start, values[-1], step=step)
    return FloatDistribution(float(start), float(values[-1]), step=float(step))


def grid_points(searched: dict[str, BaseDistribution]) -> list[dict[str, Any]]:
    """Every combination of a finite space, the first key varying slowest (as Hydra's
    basic sweeper orders a grid)."""
    values = {key: _grid_values(key, dist) for key, dist in searched.items()}
    return [
        dict(zip(values, combination, strict=True))
        for combination in itertools.product(*values.values())
    ]


def _grid_values(key: str, dist: BaseDistribution) -> list[Any]:
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, (IntDistribution, FloatDistribution)) and dist.step is not None:
        count = round((dist.high - dist.low) / dist.step) + 1
        points = [dist.low + index * dist.step for index in range(count)]
        # 0.1 + 2 * 0.1 is 0.30000000000000004: the grid shows 0.3.
        return points if isinstance(dist, IntDistribution) else [round(p, 12) for p in points]
    raise ConfigError(
        f"{key}: the grid sampler needs a finite set of values; use choice(...) or "
        "range(...) instead of interval(...), or another sampler (tpe, random)"
    )
