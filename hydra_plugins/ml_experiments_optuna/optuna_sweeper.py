"""The project's Optuna sweeper, as Hydra discovers plugins: its config (`hydra/sweeper=optuna`,
`hydra/sweeper/sampler=tpe|random|grid|cmaes|gp`) and the class Hydra instantiates.

Kept light: Hydra imports every module under `hydra_plugins` when it starts; Optuna and
the implementation (`ml_experiments.optuna_sweeper`) are imported only when a sweep uses it.
No `from __future__ import annotations`: Hydra runs this module without registering it
in sys.modules, where dataclasses would look the annotations up.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from omegaconf import MISSING

PROVIDER = "ml_experiments"


@dataclass
class SamplerConfig:
    # A partial: the sweeper adds the seed it continues from (and the grid's values), and
    # passes each sampler only the settings it takes.
    _partial_: bool = True
    seed: Any = None
    n_startup_trials: Any = None  # TPE, CMA-ES and GP: random trials before modelling


@dataclass
class TPESamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.TPESampler"
    multivariate: bool = False
    group: bool = False
    constant_liar: bool = False  # set it when several workers ask at once


@dataclass
class RandomSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.RandomSampler"


@dataclass
class GridSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.GridSampler"


@dataclass
class CmaEsSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.CmaEsSampler"
    sigma0: Any = None


@dataclass
class GPSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.GPSampler"
    deterministic_objective: bool = False


@dataclass
class OptunaSweeperConfig:
    _target_: str = "hydra_plugins.ml_experiments_optuna.optuna_sweeper.OptunaSweeper"
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])
    sampler: Any = MISSING
    direction: str = "minimize"  # or maximize
    # Any database URL SQLAlchemy opens (postgresql+psycopg://...); null: in memory.
    storage: Any = "sqlite:///${paths.outputs_dir}/optuna.db"
    study_name: Any = "${name}"
    n_trials: int = 20  # in total: a study continued runs only the rest
    n_jobs: int = 1  # trials asked per batch: the launcher's worker count
    max_failure_rate: float = 0.0  # of a batch's trials; above it the sweep stops
    pruner: str = "none"  # median, hyperband or successive_halving: stop weak trials early
    params: Any = None  # key -> sweep syntax, e.g. optimizer.lr: tag(log, interval(1e-4, 1e-1))


def _register() -> None:
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConfig, provider=PROVIDER)
    samplers = {
        "tpe": TPESamplerConfig,
        "random": RandomSamplerConfig,
        "grid": GridSamplerConfig,
        "cmaes": CmaEsSamplerConfig,
        "gp": GPSamplerConfig,
    }
    for name, node in samplers.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=node, provider=PROVIDER)


_register()


class OptunaSweeper(Sweeper):
    """Hydra's handle on `ml_experiments.optuna_sweeper.StudySweeper`."""

    def __init__(self, **settings: Any) -> None:
        from ml_experiments.optuna_sweeper import StudySweeper

        self.sweeper = StudySweeper(**settings)

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.sweeper.sweep(arguments)
