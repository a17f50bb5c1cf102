"""The hand-written PyTorch training loop: fit, validate, early-stop, checkpoint, test.

One epoch is: shuffle, forward, loss, backward, (clip), step; then a pass over
the validation split, the metrics logged with `step=epoch`, and a checkpoint.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ml_experiments.config.metric_names import direction
from ml_experiments.config.schemas import ClassWeight, Modality, Task, TrainerConfig
from ml_experiments.data import DataBundle, TensorSplit
from ml_experiments.engine import checkpoint, distributed
from ml_experiments.engine.distributed import SINGLE, RankZeroStopped, World
from ml_experiments.engine.metrics import compute_metrics
from ml_experiments.engine.schedules import LrSchedule
from ml_experiments.errors import CheckpointError, ConfigError, StopRequested, TrainingDiverged
from ml_experiments.models.protocols import EpochAware

log = logging.getLogger(__name__)
# What to try when the loss becomes NaN or infinite.
DIVERGENCE_FIXES = (
    "Lower optimizer.lr, set trainer.gradient_clip_norm, or check the data for NaN or huge values."
)

MetricsLogger = Callable[[dict[str, float], int], None]


@dataclass
class TrainingState:
    """Everything about progress that a resumed run needs besides weights and optimizer."""

    epoch: int = 0  # epochs completed
    best_score: float | None = None
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)  # metric -> one value per epoch
    stopped_early: bool = False
    first_loss: float | None = None  # of the run's first batch, before any step


@dataclass
class FitResult:
    model: nn.Module
    state: TrainingState
    test_metrics: dict[str, float]
    test_outputs: torch.Tensor
    best_checkpoint: Path | None


class Trainer:
    def __init__(
        self,
        model: nn.Module,
        data: DataBundle,
        optimizer: torch.optim.Optimizer,
        schedule: LrSchedule,
        settings: TrainerConfig,
        device: torch.device,
        seed: int,
        log_metrics: MetricsLogger,
        checkpoint_extras: dict[str, Any],  # stored in every checkpoint: config, run id
        world: World = SINGLE,  # the processes training together (torchrun), or one
    ):
        self.model = model
        self.world = world
        self.seed = seed
        self.data = data
        self.optimizer = optimizer
        self.schedule = schedule
        self.settings = settings
        self.device = device
        self.log_metrics = log_metrics
        self.checkpoint_extras = checkpoint_extras
        self.task = data.meta.task
        self.checkpoint_dir = checkpoint.run_folder(
            settings.checkpoint.dir, checkpoint_extras["run_id"]
        )
        self.data_order = torch.Generator().manual_seed(seed)
        self.use_amp = settings.amp and device.type == "cuda"
        self.memory_format = (
            torch.channels_last
            if settings.channels_last and data.meta.modality == Modality.image
            else torch.contiguous_format
        )
        self.model.to(memory_format=self.memory_format)
        self.amp_dtype = (
            torch.bfloat16
            if self.use_amp and torch.cuda.is_bf16_supported(including_emulation=False)
            else torch.float16
        )
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.use_amp and self.amp_dtype == torch.float16
        )
        self.class_weights = _class_weights(data, settings.class_weight)
        # A regressor learns in standardized units: the step follows the squared error over
        # the target's variance (the reported loss stays in the target's units).
        target_std = data.meta.target_std if self.task == Task.regression else None
        self.loss_scale = target_std**2 if target_std else 1.0
        self.best_weights = copy.deepcopy(model.state_dict())
        self.state = TrainingState()
        self.monitor_sign = 1.0 if direction(settings.monitor) == "min" else -1.0
        # What training steps call: the model wrapped in DDP across processes. Everything
        # else (evaluation, weights, checkpoints) uses the model itself.
        self.train_model = distributed.for_training(model, world)

    # --- the loop -------------------------------------------------------------

    def fit(self) -> FitResult:
        settings = self.settings
        first = self.state.epoch + 1  # past 1 when resuming
        epochs = [] if self.state.stopped_early else range(first, settings.max_epochs + 1)
        bar = _progress(epochs, "epochs", settings.progress_bar, keep=True)
        with torch.autograd.set_detect_anomaly(settings.detect_anomaly):
            for epoch in bar:
                metrics = self._run_epoch_naming_anomalies(epoch)
                shown = {key: f"{metrics[key]:.4g}" for key in metrics if key.startswith("val/")}
                bar.set_postfix(shown | {"train/loss": f"{metrics['train/loss']:.4g}"})
                if self.state.stopped_early:
                    break
        self.model.load_state_dict(self.best_weights)
        test_metrics, test_outputs = self.evaluate(self.data.test)
        best = self.checkpoint_dir / checkpoint.BEST
        return FitResult(
            self.model,
            self.state,
            {f"test/{key}": value for key, value in test_metrics.items()},
            test_outputs,
            best if best.exists() else None,
        )

    def _run_epoch_naming_anomalies(self, epoch: int) -> dict[str, float]:
        """With trainer.detect_anomaly, autograd raises where a NaN first appears: say so
        as a divergence, like a NaN loss, with the operation it names."""
        try:
            return self.run_epoch(epoch)
        except RuntimeError as error:
            if not self.settings.detect_anomaly or "returned nan values" not in str(error):
                raise
            raise TrainingDiverged(
                f"{str(error).splitlines()[0]} (epoch {epoch}): training diverged. The "
                f"warning above shows the forward-pass line that produced it. {DIVERGENCE_FIXES}"
            ) from error

    def run_epoch(self, epoch: int) -> dict[str, float]:
        started = time.perf_counter()
        learning_rate = self.optimizer.param_groups[0]["lr"]
        distributed.seed_random_streams(self.seed, epoch, self.world)
        if isinstance(self.model, EpochAware):  # e.g. gradual unfreezing
            self.model.on_epoch_start(epoch)
            self.train_model = distributed.for_training(self.model, self.world, self.train_model)
        train_loss = self.train_one_epoch(epoch)
        trained = time.perf_counter()
        val_metrics, _ = self.evaluate(self.data.val)
        if not math.isfinite(val_metrics["loss"]):
            raise TrainingDiverged(self._diverged_message("val/loss", val_metrics["loss"], epoch))
        self._check_loss_growth("val/loss", val_metrics["loss"], epoch)
        metrics = {"train/loss": train_loss, "train/lr": learning_rate}
        metrics |= {f"val/{key}": value for key, value in val_metrics.items()}
        # Training batches alone, and the whole epoch with validation.
        metrics["time/train_seconds"] = trained - started
        metrics["time/epoch_seconds"] = time.perf_counter() - started
        monitored = self._monitored_value(metrics)
        self.schedule.after_epoch(monitored)
        improved = self._update_best(monitored, epoch)
        self.state.epoch = epoch
        for key, value in metrics.items():
            self.state.history.setdefault(key, []).append(value)
        self._log_epoch(metrics, epoch)
        self._report(epoch, metrics)
        if self.settings.checkpoint.enabled and self.world.is_main:
            self.save_checkpoints(improved)
        return metrics

    def _log_epoch(self, metrics: dict[str, float], epoch: int) -> None:
        """Log the epoch (rank 0 does; the others' logger writes nothing). When logging
        stops the run on rank 0 (an Optuna pruner), every process stops with it."""
        try:
            self.log_metrics(metrics, epoch)
        except (StopRequested, KeyboardInterrupt):
            raise  # the signal reached every process
        except BaseException:
            if self.world.is_distributed:
                distributed.everyone_continues(False, self.world)
            raise
        if not distributed.everyone_continues(True, self.world):
            raise RankZeroStopped(f"rank 0 stopped the run after epoch {epoch}")

    def train_one_epoch(self, epoch: int) -> float:
        self.model.train()
        split = self.data.train
        batch_size = self.settings.batch_size
        total_batches = steps_in_epoch(split, self.settings, self.world.size)
        loss_sum = torch.zeros((), device=self.device)
        seen = 0
        accumulate = self.settings.accumulate_batches
        self.optimizer.zero_grad(set_to_none=True)
        batches = _progress(
            split.batches(
                batch_size, generator=self.data_order, passes=passes_per_epoch(split, self.settings)
            ),
            f"epoch {epoch}",
            self.settings.progress_bar,
            total=total_batches,
        )
        for index, (inputs, targets) in enumerate(batches):
            if index == total_batches:
                break
            # Step after every `accumulate` batches, and after the epoch's last one; the
            # last group may be shorter, and its mean loss is over its own batches.
            group_start = index - index % accumulate
            group_size = min(accumulate, total_batches - group_start)
            update = index + 1 == group_start + group_size
            # Across processes, each trains on its slice of the batch.
            inputs, targets, share = distributed.local_batch(inputs, targets, self.world)
            loss = self.train_step(inputs, targets, update, share / group_size)
            if self.state.first_loss is None:
                self.state.first_loss = self._batch_loss(loss, len(targets))
            # Summed on the device: reading .item() every batch would wait on the GPU.
            loss_sum += loss.detach() * len(targets)
            seen += len(targets)
        distributed.sync_buffers(self.model, self.world)
        mean_loss = self._mean_over_processes(loss_sum, seen)
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(self._diverged_message("train/loss", mean_loss, epoch))
        self._check_loss_growth("train/loss", mean_loss, epoch)
        return mean_loss

    def _batch_loss(self, loss: torch.Tensor, examples: int) -> float:
        """The whole batch's mean loss: across processes, over every process's slice."""
        if not self.world.is_distributed:
            return loss.item()
        return self._mean_over_processes(loss.detach() * examples, examples)

    def _mean_over_processes(self, total: torch.Tensor, count: int) -> float:
        """`total / count`, both summed over the processes first (one process: its own)."""
        if self.world.is_distributed:
            counted = torch.stack([total, total.new_tensor(float(count))])
            summed = distributed.sum_over_processes(counted, self.world)
            total, count = summed[0], summed[1].item()
        return (total / max(count, 1)).item()

    def _check_loss_growth(self, metric: str, loss: float, epoch: int) -> None:
        """A finite loss orders of magnitude above the untrained model's has diverged too:
        the run would otherwise end FINISHED with a useless model."""
        growth, first = self.settings.max_loss_growth, self.state.first_loss
        if growth is None or not first or loss <= first * growth:
            return
        raise TrainingDiverged(
            f"{metric} grew from {first:.4g} (the first batch's loss) to {loss:.4g} in epoch "
            f"{epoch}, over trainer.max_loss_growth={growth:g} times: training diverged. "
            f"{DIVERGENCE_FIXES}"
        )

    def train_step(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        update: bool = True,
        loss_weight: float = 1.0,
    ) -> torch.Tensor:
        """Forward and backward for one batch; with `update`, an optimizer step on the
        gradients gathered since the last one. `loss_weight` is 1 / the batches per step,
        so the step follows their mean loss."""
        inputs = self.data.prepare_batch(inputs, True).contiguous(memory_format=self.memory_format)
        with distributed.gradients_held_back(self.train_model, update):
            with self._autocast():
                loss = self.loss(self.train_model(inputs), targets, training=True)
            self.scaler.scale(loss * (loss_weight / self.loss_scale)).backward()
        if not update:
            return loss
        if self.settings.gradient_clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.gradient_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.after_batch()
        return loss

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, training: bool) -> torch.Tensor:
        if self.task == Task.classification:
            smoothing = self.settings.label_smoothing if training else 0.0
            weights = self.class_weights if training else None
            return F.cross_entropy(
                outputs.float(), targets, weight=weights, label_smoothing=smoothing
            )
        return F.mse_loss(outputs.float().squeeze(-1), targets)

    def predict(self, split: TensorSplit) -> torch.Tensor:
        """Outputs for every example of `split`: across processes, each predicts its shard
        and the shards are gathered back in order."""
        outputs = predict_split(
            self.model,
            distributed.shard(split, self.world),
            self._prepare_for_evaluation,
            self.settings.eval_batch_size,
            self.task,
            self._autocast,
        )
        return distributed.gather_shards(outputs, len(split), self.world)

    def evaluate(self, split: TensorSplit) -> tuple[dict[str, float], torch.Tensor]:
        outputs = self.predict(split)
        return compute_metrics(self.task, outputs, split.y), outputs

    # --- best model, early stopping, checkpoints ---------------------------------

    def _monitored_value(self, metrics: dict[str, float]) -> float:
        # The monitor name is checked at start-up, so it is always present here.
        return metrics[self.settings.monitor]

    def _update_best(self, value: float, epoch: int) -> bool:
        state = self.state
        min_delta = self.settings.early_stopping.min_delta
        improved = state.best_score is None or (
            self.monitor_sign * (state.best_score - value) > min_delta
        )
        if improved:
            state.best_score, state.best_epoch = value, epoch
            state.epochs_without_improvement = 0
            self.best_weights = copy.deepcopy(self.model.state_dict())
        else:
            state.epochs_without_improvement += 1
            stopping = self.settings.early_stopping
            if stopping.enabled and state.epochs_without_improvement >= stopping.patience:
                log.info(
                    "early stop after epoch %d: %s has not improved for %d epochs "
                    "(best %.5g at epoch %d)",
                    epoch,
                    self.settings.monitor,
                    stopping.patience,
                    state.best_score,
                    state.best_epoch,
                )
                state.stopped_early = True
        return improved

    def checkpoint_state(self) -> dict[str, Any]:
        state = self.state
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": state.epoch,
            "best_score": state.best_score,
            "best_epoch": state.best_epoch,
            "epochs_without_improvement": state.epochs_without_improvement,
            "stopped_early": state.stopped_early,
            "first_loss": state.first_loss,
            "history": state.history,
            "rng": checkpoint.capture_rng_state(self.data_order, self.device),
            **self.checkpoint_extras,
        }

    def save_checkpoints(self, improved: bool) -> None:
        state = self.checkpoint_state()
        # best.pt first: a last.pt must never point at a best epoch that best.pt lacks.
        if improved:
            checkpoint.save_atomically(state, self.checkpoint_dir / checkpoint.BEST)
        checkpoint.save_atomically(state, self.checkpoint_dir / checkpoint.LAST)

    def restore(self, saved: dict[str, Any], best_weights: dict[str, torch.Tensor]) -> None:
        """Continue from a checkpoint: weights, optimizer, schedule, progress and random state."""
        try:
            self.model.load_state_dict(saved["model"])
            self.optimizer.load_state_dict(saved["optimizer"])
            self.schedule.load_state_dict(saved["scheduler"])
            self.scaler.load_state_dict(saved["scaler"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(
                "the checkpoint does not fit the model and optimizer of this config "
                f"({_first_detail(error)}). Resume with the same dataset, model and "
                "optimizer options as the original run; its config is stored in the "
                "checkpoint under 'config'."
            ) from error
        self.best_weights = best_weights
        # A resumed run keeps writing beside the checkpoint it continues (the set-up points
        # trainer.checkpoint.dir there), so its best.pt and last.pt stay together.
        self.checkpoint_dir = Path(self.settings.checkpoint.dir)
        self.state = TrainingState(
            epoch=saved["epoch"],
            best_score=saved["best_score"],
            best_epoch=saved["best_epoch"],
            epochs_without_improvement=saved["epochs_without_improvement"],
            history={key: list(values) for key, values in saved["history"].items()},
            stopped_early=saved["stopped_early"],
            # Checkpoints written before it was kept lack it: the next batch sets it then.
            first_loss=saved.get("first_loss"),
        )
        checkpoint.restore_rng_state(saved["rng"], self.data_order, self.device)

    # --- small helpers ---------------------------------------------------------------

    def _prepare_for_evaluation(self, inputs: torch.Tensor, training: bool) -> torch.Tensor:
        return self.data.prepare_batch(inputs, training).contiguous(
            memory_format=self.memory_format
        )

    def _autocast(self):
        if not self.use_amp:
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def _diverged_message(self, metric: str, value: float, epoch: int) -> str:
        message = f"{metric} became {value} in epoch {epoch}: training diverged. {DIVERGENCE_FIXES}"
        # Anomaly mode finds the operation that makes a NaN; an overflow to inf it cannot.
        if math.isnan(value) and not self.settings.detect_anomaly:
            message += " trainer.detect_anomaly=true names the operation that produced it."
        return message

    def _report(self, epoch: int, metrics: dict[str, float]) -> None:
        # About twenty lines per run in the log, whatever the number of epochs.
        every = max(1, self.settings.max_epochs // 20)
        if epoch % every == 0 or epoch == self.settings.max_epochs or self.state.stopped_early:
            shown = " ".join(f"{key}={value:.4g}" for key, value in metrics.items())
            log.info("epoch %d/%d %s", epoch, self.settings.max_epochs, shown)


def passes_per_epoch(split: TensorSplit, settings: TrainerConfig) -> int:
    """How many times one epoch goes through the training split: once, or as many times
    as `min_epoch_examples` needs."""
    wanted = settings.min_epoch_examples
    if wanted is None or len(split) == 0:
        return 1
    return max(1, math.ceil(wanted / len(split)))


def steps_in_epoch(split: TensorSplit, settings: TrainerConfig, processes: int = 1) -> int:
    """Training batches in one epoch: every batch, or `limit_train_batches` of them. A last
    batch too small to give each process two examples is left out (one process: a lone
    last example): batch norm cannot normalize a batch of one."""
    passes = passes_per_epoch(split, settings)
    batches = split.num_batches(settings.batch_size, passes)
    if batches > 1 and 0 < len(split) * passes % settings.batch_size < 2 * processes:
        batches -= 1
    limit = settings.limit_train_batches
    return batches if limit is None else min(limit, batches)


def optimizer_steps_in_epoch(
    split: TensorSplit, settings: TrainerConfig, processes: int = 1
) -> int:
    """One per `accumulate_batches` batches, and one for a last, shorter group."""
    return math.ceil(steps_in_epoch(split, settings, processes) / settings.accumulate_batches)


@torch.no_grad()
def predict_split(
    model: nn.Module,
    split: TensorSplit,
    prepare_batch: Callable[[torch.Tensor, bool], torch.Tensor],
    batch_size: int,
    task: Task,
    autocast: Callable[[], Any] = nullcontext,
) -> torch.Tensor:
    """Raw outputs for a whole split: logits, or predictions of shape (N,) for regression."""
    model.eval()
    outputs = []
    for inputs, _ in split.batches(batch_size):
        with autocast():
            outputs.append(model(prepare_batch(inputs, False)).float())
    joined = torch.cat(outputs)
    return joined if task == Task.classification else joined.squeeze(-1)


def _class_weights(data: DataBundle, scheme: ClassWeight | None) -> torch.Tensor | None:
    """ "balanced": n / (classes * count) per class, as scikit-learn's class_weight does."""
    if scheme is None:
        return None
    if data.meta.task != Task.classification:
        raise ConfigError(f"trainer.class_weight={scheme.value} needs a classification task")
    counts = torch.bincount(data.train.y, minlength=data.meta.num_classes).float()
    return counts.sum() / (len(counts) * counts.clamp(min=1))


def _first_detail(error: Exception) -> str:
    """The line that says what is wrong: torch's state-dict errors open with a heading
    ("Error(s) in loading state_dict for X:") and give the details below it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        return lines[1]
    return lines[0] if lines else type(error).__name__


def _progress(iterable, description: str, enabled: bool | None, total=None, keep=False):
    """A tqdm bar on a terminal (or when forced on); silent otherwise, e.g. in log files."""
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(
        iterable, desc=description, total=total, leave=keep, disable=not show, file=sys.stderr
    )
