"""The shapes every dataset loader returns and every engine consumes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

from ml_experiments.config.schemas import Modality, Task

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class DatasetMeta:
    """What a model needs to size itself, and what figures need to label things."""

    name: str
    task: Task
    input_shape: tuple[int, ...]  # of one example as the model sees it
    class_names: list[str] | None = None  # classification only
    feature_names: list[str] | None = None
    # Images only: per-channel mean and std of the training pixels in [0, 1]; the
    # models normalize with them, so a saved model takes plain [0, 1] images.
    channel_mean: list[float] | None = None
    channel_std: list[float] | None = None
    # Images resized on the device: the size kept in memory, before the resize to
    # input_shape. New images are brought to it first, then resized the same way.
    stored_shape: tuple[int, ...] | None = None
    # Decides how batches, figures and predictions treat the inputs; never guessed from
    # the shape (token ids and feature vectors are both 1-D).
    modality: Modality = field(kw_only=True)
    # What the data was when the model was trained (data/fingerprint.py): evaluate checks it.
    data_digest: str | None = field(default=None, kw_only=True)
    split_rows: dict[str, int] | None = field(default=None, kw_only=True)
    # Regression only: the training targets' mean and standard deviation. Models learn the
    # standardized target and answer in the original units (models/tabular.py).
    target_mean: float | None = field(default=None, kw_only=True)
    target_std: float | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        self.task = Task(self.task)  # plain strings, as stored in files, become the enums
        self.modality = Modality(self.modality)

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (enums as strings): checkpoints must load with weights_only."""
        values = asdict(self)
        return values | {"task": str(self.task), "modality": str(self.modality)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DatasetMeta:
        shapes = {
            key: tuple(values[key])
            for key in ("input_shape", "stored_shape")
            if values.get(key) is not None
        }
        return cls(**(values | shapes))

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names else None

    @property
    def num_features(self) -> int:
        return math.prod(self.input_shape)

    @property
    def output_size(self) -> int:
        """Width of the model's last layer: one logit per class, or one value."""
        return self.num_classes if self.task == Task.classification else 1


@dataclass
class TensorSplit:
    """One split held in memory as tensors: inputs `x` and targets `y`."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device) -> TensorSplit:
        return TensorSplit(self.x.to(device), self.y.to(device))

    def num_batches(self, batch_size: int, passes: int = 1) -> int:
        return math.ceil(len(self) * passes / batch_size)

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, passes: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Mini-batches in order, or shuffled by `generator` when one is given; `passes`
        goes through the split that many times in one run of batches (each pass
        shuffled anew), so a batch may span the end of one pass and the next.

        Slicing tensors already in memory (on the training device) beats a
        DataLoader for small data: no collation, no worker processes.
        """
        if generator is None and passes == 1:
            for start in range(0, len(self), batch_size):
                yield self.x[start : start + batch_size], self.y[start : start + batch_size]
            return
        left_over = torch.empty(0, dtype=torch.long, device=self.y.device)
        for _ in range(passes):  # one pass's order in memory at a time, however many passes
            if generator is None:
                one_pass = torch.arange(len(self))
            else:
                one_pass = torch.randperm(len(self), generator=generator)
            order = torch.cat([left_over, one_pass.to(self.y.device)])
            whole = len(order) - len(order) % batch_size
            for start in range(0, whole, batch_size):
                index = order[start : start + batch_size]
                yield self.x[index], self.y[index]
            left_over = order[whole:]
        if len(left_over):
            yield self.x[left_over], self.y[left_over]


def unchanged(inputs: torch.Tensor, training: bool) -> torch.Tensor:
    return inputs


@dataclass
class RawTable:
    """A table's feature columns as the file gives them (gaps and categories included), and
    the preparation fitted on the training split that turns such rows into model inputs:
    what lets a logged model take new rows as they come."""

    preprocessor: Any  # fitted: .transform(rows as a DataFrame) -> 2-D array of model inputs
    test_rows: pd.DataFrame  # the test split's rows as read, for the model's input example


@dataclass
class DataBundle:
    train: TensorSplit
    val: TensorSplit
    test: TensorSplit
    meta: DatasetMeta
    # Counts worth knowing about the preparation (rows dropped, values imputed);
    # logged to the run as `data/<key>` params.
    summary: dict[str, Any] = field(default_factory=dict)
    # Applied to every batch on the training device before the model sees it, e.g.
    # uint8 pixels -> floats with augmentation; `training` is False for evaluation.
    prepare_batch: Callable[[torch.Tensor, bool], torch.Tensor] = unchanged
    # Tabular files: the rows before preparation (None: the model's inputs are the rows).
    raw_table: RawTable | None = None

    def to(self, device: torch.device) -> DataBundle:
        return replace(
            self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device)
        )

    def with_target_scale(self) -> DataBundle:
        """For regression, the training targets' mean and spread in `meta`: the scale the
        model learns in, whatever the units of the target (dollars, years, 1e6 m²)."""
        if self.meta.task != Task.regression:
            return self
        targets = self.train.y.double()
        spread = targets.std().item() if len(targets) > 1 else 0.0
        scale = {"target_mean": targets.mean().item(), "target_std": spread if spread > 0 else 1.0}
        return replace(self, meta=replace(self.meta, **scale))
