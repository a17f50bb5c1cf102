"""Learning-rate schedules from the `scheduler` config group, with optional linear warmup."""

from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.optim.lr_scheduler import LinearLR, LRScheduler, ReduceLROnPlateau, SequentialLR

from ml_experiments.config.build import plain_options
from ml_experiments.config.metric_names import direction

# Keys of the scheduler group that the engine reads; the rest go to the torch class.
ENGINE_KEYS = ("interval", "warmup_epochs", "warmup_start_factor")


class LrSchedule:
    """A torch scheduler plus when to step it: after every batch or after every epoch."""

    def __init__(self, scheduler: LRScheduler | ReduceLROnPlateau | None, interval: str):
        self.scheduler = scheduler
        self.interval = interval

    def after_batch(self) -> None:
        if self.scheduler is not None and self.interval == "step":
            self.scheduler.step()

    def after_epoch(self, monitored_value: float) -> None:
        if self.scheduler is None or self.interval != "epoch":
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(monitored_value)
        else:
            self.scheduler.step()

    def state_dict(self) -> dict:
        return {} if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)


def build_schedule(
    node: DictConfig,
    optimizer: torch.optim.Optimizer,
    max_epochs: int,
    steps_per_epoch: int,  # optimizer steps, not batches, when gradients accumulate
    monitor: str = "val/loss",
) -> LrSchedule:
    """The configured scheduler, preceded by `warmup_epochs` of linear warmup when set.

    Keys left null in the config (`T_max`, `total_iters`, `epochs`, `steps_per_epoch`,
    `max_lr`)
    are filled from the trainer and the data, so one YAML fits any run length. A
    plateau schedule watches `monitor` in the direction that metric improves.
    """
    options = plain_options(node)
    interval = options.pop("interval")
    warmup_epochs = options.pop("warmup_epochs")
    warmup_start_factor = options.pop("warmup_start_factor")
    updates_per_epoch = steps_per_epoch if interval == "step" else 1
    warmup_updates = round(warmup_epochs * updates_per_epoch)
    updates_after_warmup = max_epochs * updates_per_epoch - warmup_updates

    main = None
    if options["_target_"] is not None:
        defaults = {
            "T_max": updates_after_warmup,
            "total_iters": updates_after_warmup,
            "epochs": max_epochs,
            "steps_per_epoch": steps_per_epoch,
            # One per parameter group: discriminative learning rates keep their ratios.
            "max_lr": [group["lr"] for group in optimizer.param_groups],
        }
        for key, value in defaults.items():
            if key in options and options[key] is None:
                options[key] = value
        if options["_target_"].endswith("ReduceLROnPlateau"):
            options["mode"] = direction(monitor)
        main = instantiate(options, _convert_="all")(optimizer)
    if warmup_updates == 0:
        return LrSchedule(main, interval)

    warmup = LinearLR(optimizer, start_factor=warmup_start_factor, total_iters=warmup_updates)
    if main is None:
        return LrSchedule(warmup, interval)
    return LrSchedule(
        SequentialLR(optimizer, [warmup, main], milestones=[warmup_updates]), interval
    )
