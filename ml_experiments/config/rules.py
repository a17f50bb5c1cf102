"""Rules across config keys that a schema cannot express, checked before any work starts."""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, OmegaConf

from ml_experiments.config.metric_names import METRIC_NAMES, logged_metric_names
from ml_experiments.config.schemas import (
    FieldsLinearModelConfig,
    SklearnLinearModelConfig,
    Task,
    TextLinearModelConfig,
)
from ml_experiments.errors import ConfigError

# The models scikit-learn fits, in one process.
SCIKIT_LEARN_MODELS = (SklearnLinearModelConfig, TextLinearModelConfig, FieldsLinearModelConfig)
# torch.distributed's backends (whether this build has one is known only at run time).
BACKENDS = ("gloo", "nccl", "mpi", "ucc", "xccl")


def check_config(cfg: DictConfig, processes: int = 1) -> None:
    """Raise ConfigError naming every broken rule, so one run shows all of them.

    `processes`: how many train the run together (torchrun's WORLD_SIZE)."""
    unset = sorted(OmegaConf.missing_keys(cfg))
    if unset:
        raise ConfigError(
            f"these keys need a value: {', '.join(unset)}. Set them on the command line, "
            f"e.g. {unset[0]}=..."
        )
    problems = _unknown_key_problems(cfg, "")
    problems += _trainer_problems(cfg.trainer)
    problems += _split_problems(cfg.dataset)
    problems += _optimizer_problems(cfg.optimizer)
    problems += _scheduler_problems(cfg.scheduler, cfg.trainer.max_epochs)
    problems += _learning_rate_sign_problems(cfg.scheduler)
    problems += _metric_name_problems(cfg)
    problems += _process_problems(cfg, processes)
    if not 0 <= cfg.seed < 2**32:  # numpy's and torch's range
        problems.append(f"seed must be between 0 and 4294967295, got {cfg.seed}")
    if (cfg.logger.register_as or cfg.logger.register_best) and not cfg.logger.log_model:
        problems.append("logger.register_as and register_best need logger.log_model=true")
    if cfg.device.threads is not None and cfg.device.threads < 1:
        problems.append(f"device.threads must be null or at least 1, got {cfg.device.threads}")
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))


def _metric_name_problems(cfg: DictConfig) -> list[str]:
    """Names no run of any task logs: a typo caught before a run is opened. Whether the
    name fits this run's task is known once the data is loaded (`check_metric_names`)."""
    every_name = list(dict.fromkeys(n for task in METRIC_NAMES for n in logged_metric_names(task)))
    return _metric_problems(cfg, every_name, "any run", check_monitor=True)


def check_metric_names(cfg: DictConfig, task: Task, trains_with_torch: bool) -> None:
    """`optimized_metric` and `trainer.monitor` must be metrics this run logs."""
    problems = _metric_problems(cfg, logged_metric_names(task), f"a {task} run", trains_with_torch)
    if problems:
        raise ConfigError("\n".join(f"{problem}." for problem in problems))


def _metric_problems(
    cfg: DictConfig, names: list[str], runs: str, check_monitor: bool
) -> list[str]:
    """`optimized_metric` (and `trainer.monitor`, for the torch loop) against the metric
    names that `runs` log."""
    problems = []
    if cfg.optimized_metric not in names:
        problems.append(
            f"optimized_metric={cfg.optimized_metric} is not a metric {runs} logs; "
            f"choose one of {', '.join(names)}"
        )
    validation_names = [name for name in names if name.startswith("val/")]
    if check_monitor and cfg.trainer.monitor not in validation_names:
        problems.append(
            f"trainer.monitor={cfg.trainer.monitor} is not a validation metric of {runs}; "
            f"choose one of {', '.join(validation_names)}"
        )
    return problems


def check_onecycle_steps(scheduler: DictConfig, steps_per_epoch: int) -> None:
    """A set `scheduler.steps_per_epoch` must cover every optimizer step of an epoch (known
    once data is loaded)."""
    configured = scheduler.get("steps_per_epoch")
    if configured is not None and configured < steps_per_epoch:
        raise ConfigError(
            f"scheduler.steps_per_epoch={configured} is below the {steps_per_epoch} optimizer "
            "steps of an epoch: the one-cycle schedule would run out mid-training; leave it null"
        )


def _unknown_key_problems(node: DictConfig, prefix: str) -> list[str]:
    """Keys added with `+key=value` that the node's schema does not have."""
    problems = []
    schema = OmegaConf.get_type(node)
    if dataclasses.is_dataclass(schema):
        known = {field.name for field in dataclasses.fields(schema)}
        for key in node:
            if key not in known:
                problems.append(
                    f"{prefix}{key} is not a key of {schema.__name__}; "
                    f"its keys are {', '.join(sorted(known - {'_target_', '_partial_'}))}"
                )
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            problems += _unknown_key_problems(child, f"{prefix}{key}.")
    return problems


def _trainer_problems(trainer: DictConfig) -> list[str]:
    rules = [
        (
            trainer.max_epochs >= 1,
            f"trainer.max_epochs must be at least 1, got {trainer.max_epochs}",
        ),
        (
            trainer.batch_size >= 1,
            f"trainer.batch_size must be at least 1, got {trainer.batch_size}",
        ),
        (trainer.eval_batch_size >= 1, "trainer.eval_batch_size must be at least 1"),
        (
            trainer.early_stopping.patience >= 1,
            "trainer.early_stopping.patience must be at least 1",
        ),
        (
            trainer.limit_train_batches is None or trainer.limit_train_batches >= 1,
            "trainer.limit_train_batches must be null or at least 1",
        ),
        (
            trainer.min_epoch_examples is None or trainer.min_epoch_examples >= 1,
            "trainer.min_epoch_examples must be null or at least 1",
        ),
        (
            trainer.accumulate_batches >= 1,
            f"trainer.accumulate_batches must be at least 1, got {trainer.accumulate_batches}",
        ),
        (
            trainer.gradient_clip_norm is None or trainer.gradient_clip_norm > 0,
            "trainer.gradient_clip_norm must be null or positive",
        ),
        (
            trainer.max_loss_growth is None or trainer.max_loss_growth > 1,
            f"trainer.max_loss_growth must be null or above 1, got {trainer.max_loss_growth}",
        ),
        (
            0.0 <= trainer.label_smoothing < 1.0,
            f"trainer.label_smoothing must be in [0, 1), got {trainer.label_smoothing}",
        ),
    ]
    return [message for holds, message in rules if not holds]


def _process_problems(cfg: DictConfig, processes: int) -> list[str]:
    problems = []
    backend = cfg.trainer.distributed.backend
    if backend is not None and backend not in BACKENDS:
        problems.append(
            f"trainer.distributed.backend={backend} is not one of {', '.join(BACKENDS)}; "
            "leave it null for gloo on CPUs and nccl on GPUs"
        )
    if processes == 1:
        return problems
    if OmegaConf.get_type(cfg.model) in SCIKIT_LEARN_MODELS:
        problems.append(
            f"model={cfg.model.name} is fitted by scikit-learn in one process; torchrun's "
            f"{processes} processes cannot share it. Run it with python -m ml_experiments.train"
        )
    if cfg.trainer.batch_size < processes:
        problems.append(
            f"trainer.batch_size={cfg.trainer.batch_size} is the whole batch, which the "
            f"{processes} processes share: it must be at least {processes}"
        )
    return problems


def _split_problems(dataset: DictConfig) -> list[str]:
    if "val_fraction" not in dataset:
        return []
    val, test = dataset.val_fraction, dataset.get("test_fraction")
    if test is None:  # the data set has its own test split
        if 0 < val < 1:
            return []
        return [f"dataset.val_fraction must be between 0 and 1, got {val}"]
    if val <= 0 or test <= 0 or val + test >= 1:
        return [
            f"dataset.val_fraction ({val}) and dataset.test_fraction ({test}) must each be "
            "above 0 and sum to less than 1"
        ]
    return []


def _optimizer_problems(optimizer: DictConfig) -> list[str]:
    problems = []
    if optimizer.lr <= 0:
        problems.append(f"optimizer.lr must be positive, got {optimizer.lr}")
    if optimizer.get("nesterov") and (optimizer.momentum <= 0 or optimizer.dampening != 0):
        problems.append(
            "optimizer.nesterov=true needs optimizer.momentum > 0 and optimizer.dampening=0"
        )
    return problems


def _scheduler_problems(scheduler: DictConfig, max_epochs: int) -> list[str]:
    target = scheduler._target_ or ""
    problems = []
    warmup = scheduler.warmup_epochs
    if warmup < 0 or warmup >= max_epochs:
        problems.append(
            f"scheduler.warmup_epochs={warmup} must be at least 0 and below "
            f"trainer.max_epochs={max_epochs}"
        )
    if warmup != int(warmup) and scheduler.interval.value != "step":
        problems.append(
            f"scheduler.warmup_epochs={warmup} is a fraction of an epoch: set "
            "scheduler.interval=step, so the learning rate changes every batch"
        )
    if warmup and target.endswith(("OneCycleLR", "ReduceLROnPlateau")):
        problems.append(
            f"scheduler.warmup_epochs does not combine with {target.rsplit('.', 1)[-1]}: "
            "onecycle warms up by itself (pct_start); plateau reacts to the metric only"
        )
    if target.endswith("OneCycleLR"):
        if scheduler.interval.value != "step":
            problems.append("scheduler=onecycle steps every batch: set scheduler.interval=step")
        if scheduler.epochs is not None and scheduler.epochs < max_epochs:
            problems.append(
                f"scheduler.epochs={scheduler.epochs} is below trainer.max_epochs={max_epochs}: "
                "the one-cycle schedule would end before training does; leave it null"
            )
    if scheduler.get("step_size") is not None and scheduler.step_size < 1:
        problems.append(f"scheduler.step_size must be at least 1, got {scheduler.step_size}")
    if target.endswith("ReduceLROnPlateau") and scheduler.interval.value != "epoch":
        problems.append("scheduler=plateau reacts to the validation metric: set interval=epoch")
    return problems


# Scheduler keys that scale the learning rate, and the smallest value that keeps it above 0
# (a negative lr climbs the loss; zero stops learning without a word). The end of a decay
# may reach 0: that is its last step, not the whole run.
LR_FACTOR_FLOORS = {
    "gamma": ("above", 0.0),
    "factor": ("above", 0.0),
    "start_factor": ("above", 0.0),
    "end_factor": ("at least", 0.0),
    "eta_min": ("at least", 0.0),
    "max_lr": ("above", 0.0),
    "div_factor": ("above", 0.0),
    "final_div_factor": ("above", 0.0),
    "warmup_start_factor": ("above", 0.0),
}


def _learning_rate_sign_problems(scheduler: DictConfig) -> list[str]:
    """Schedule options that would make the learning rate negative or zero."""
    problems = []
    for key, (bound, floor) in LR_FACTOR_FLOORS.items():
        value = scheduler.get(key)
        if value is None or (value > floor if bound == "above" else value >= floor):
            continue
        problems.append(
            f"scheduler.{key}={value} would make the learning rate negative or zero; "
            f"it must be {bound} {floor}"
        )
    return problems
