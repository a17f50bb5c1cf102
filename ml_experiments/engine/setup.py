"""Assemble a Trainer from the config: the optimizer over the model's parameter groups,
the learning-rate schedule, what every checkpoint stores, and the state to resume."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ml_experiments.config.build import build
from ml_experiments.config.rules import check_onecycle_steps
from ml_experiments.config.schemas import TrainerConfig
from ml_experiments.data import DataBundle
from ml_experiments.engine import checkpoint, distributed
from ml_experiments.engine.checkpoint import ResumePoint
from ml_experiments.engine.distributed import SINGLE, World
from ml_experiments.engine.loop import MetricsLogger, Trainer, optimizer_steps_in_epoch
from ml_experiments.engine.schedules import build_schedule
from ml_experiments.errors import ConfigError
from ml_experiments.models.protocols import HasParameterGroups, ReadsText

log = logging.getLogger(__name__)


def build_trainer(
    cfg: DictConfig,
    model: nn.Module,
    data: DataBundle,
    device: torch.device,
    log_metrics: MetricsLogger,
    run_id: str,
    resume: ResumePoint | None,
    world: World = SINGLE,
) -> Trainer:
    """A Trainer for `model` on `data` as `cfg` sets it up; continuing `resume` if given.

    Across processes (`world`), rank 0 alone writes checkpoints and shows progress."""
    settings: TrainerConfig = OmegaConf.to_object(cfg.trainer)
    if resume is not None:
        # Keep writing next to the checkpoint we resume from: best.pt lives there too.
        settings.checkpoint = replace(settings.checkpoint, dir=str(resume.path.parent))
    if settings.checkpoint.enabled and world.is_main:
        checkpoint.check_writable(Path(settings.checkpoint.dir))
    if not world.is_main:
        settings.progress_bar = False
    if settings.amp and device.type != "cuda":
        log.warning("trainer.amp=true has no effect on %s; training in float32", device.type)
    _check_splits_cover_processes(data, world)
    model = distributed.with_sync_batchnorm(model, world, settings.sync_batchnorm).to(device)
    data = data.to(device)
    optimizer = build(cfg.optimizer, params=_parameter_groups(model, cfg.optimizer.lr))
    steps_per_epoch = optimizer_steps_in_epoch(data.train, settings, world.size)
    check_onecycle_steps(cfg.scheduler, steps_per_epoch)
    schedule = build_schedule(
        cfg.scheduler, optimizer, settings.max_epochs, steps_per_epoch, settings.monitor
    )
    trainer = Trainer(
        model,
        data,
        optimizer,
        schedule,
        settings,
        device,
        cfg.seed,
        log_metrics=log_metrics,
        checkpoint_extras=_checkpoint_extras(cfg, model, data, run_id),
        world=world,
    )
    if resume is not None:
        trainer.restore(resume.state, resume.best_weights)
        log.info("resumed after epoch %d from %s", trainer.state.epoch, resume.path)
    return trainer


def _check_splits_cover_processes(data: DataBundle, world: World) -> None:
    """Each process evaluates a shard of the validation and test splits: none may be empty."""
    smallest = min(len(data.val), len(data.test))
    if smallest < world.size:
        raise ConfigError(
            f"the validation or test split has {smallest} examples, fewer than the "
            f"{world.size} processes that share it: run with fewer processes"
        )


def _parameter_groups(model: torch.nn.Module, lr: float):
    """The model's own optimizer groups (e.g. smaller learning rates for early layers), or
    one group of every parameter."""
    if isinstance(model, HasParameterGroups):
        return model.parameter_groups(lr)
    return model.parameters()


def _checkpoint_extras(cfg: DictConfig, model, data: DataBundle, run_id: str) -> dict:
    """What every checkpoint stores besides the training state, as plain values."""
    extras = {
        "run_id": run_id,
        "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        # Unresolved, so a loader can point it at another data directory.
        "config_unresolved": OmegaConf.to_container(cfg, resolve=False, enum_to_str=True),
        "meta": data.meta.to_dict(),
    }
    if isinstance(model, ReadsText):  # a text model cannot be rebuilt without its vocabulary
        extras["tokenizer"] = model.tokenizer.state_dict()
    return extras
