"""Data-parallel training over several processes (torchrun): which process this is, the
process group, the model wrapped in DistributedDataParallel, and the few collective
steps that make every process see the numbers one process would.

The batch size is global. Every process draws the same seeded order and takes its own
slice of every batch (`local_batch`); the gradients DDP averages are then the whole
batch's, as one process computes them. The validation and test splits are cut in
contiguous shards, one per process, with no padding; the outputs are gathered back in
order (`gather_shards`), so every process computes the metrics on every example once.

One process (no torchrun, or WORLD_SIZE=1) is `SINGLE`: every function here then
returns its input as it is and talks to no one, so a single run stays what it was.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ml_experiments.data import TensorSplit
from ml_experiments.errors import ConfigError

log = logging.getLogger(__name__)
# torchrun's environment variables (and those submitit's helper exports for SLURM tasks).
WORLD_SIZE, RANK, LOCAL_RANK = "WORLD_SIZE", "RANK", "LOCAL_RANK"
# Where rank 0 leaves its Hydra output folder for the others, per torchrun restart.
OUTPUT_DIR_KEY = "ml_experiments/output_dir/{restart}"
NO_RUN = ""  # left there instead when rank 0 started no run (--cfg job, --help, an error)


@dataclass(frozen=True)
class World:
    """This process among those that train one model together."""

    rank: int = 0
    local_rank: int = 0  # its rank on its machine: which GPU it takes
    size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None  # torch.distributed's, once the process group is made

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs the run and writes its checkpoints."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1


SINGLE = World()


class RankZeroStopped(Exception):
    """Rank 0 stopped the run while logging an epoch (an Optuna pruner, say); the other
    processes stop with it."""


def launched_world() -> World:
    """This process's place, as torchrun (or a submitit job of several tasks) set it."""
    _export_submitit_tasks()
    size = int(os.environ.get(WORLD_SIZE, "1"))
    if size <= 1:
        return SINGLE
    return World(int(os.environ[RANK]), int(os.environ.get(LOCAL_RANK, "0")), size)


def _export_submitit_tasks() -> None:
    """A job that submitit started as several tasks (hydra.launcher.tasks_per_node) gets
    torchrun's variables from SLURM's: its tasks then train one model together."""
    if WORLD_SIZE in os.environ or not os.environ.get("SUBMITIT_EXECUTOR"):
        return
    import submitit
    from submitit.helpers import TorchDistributedEnvironment

    if submitit.JobEnvironment().num_tasks > 1:
        # Every task sees the node's GPUs and takes the one of its LOCAL_RANK, as with torchrun.
        TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


# --- the process group --------------------------------------------------------------


@functools.cache
def _shared_store() -> dist.Store:
    """The key-value store of torchrun's processes (its agent's, or one rank 0 serves)."""
    store, _, _ = next(dist.rendezvous("env://"))
    return store


@contextmanager
def process_group(world: World, backend: str | None, device: torch.device) -> Iterator[World]:
    """Join the other processes for the run inside; the World says where this one trains.

    backend None: gloo on CPUs, nccl on CUDA, each process on the GPU of its LOCAL_RANK."""
    if not world.is_distributed:
        yield replace(world, device=device)
        return
    device = _process_device(world, device)
    backend = backend or ("nccl" if device.type == "cuda" else "gloo")
    if not dist.is_backend_available(backend):
        raise ConfigError(
            f"trainer.distributed.backend={backend} is not available in this torch build; "
            "leave it null (gloo on CPUs, nccl on CUDA)"
        )
    dist.init_process_group(
        backend,
        store=_shared_store(),
        rank=world.rank,
        world_size=world.size,
        device_id=device if device.type == "cuda" else None,
    )
    log.info("process %d of %d on %s (%s)", world.rank, world.size, device, backend)
    yield replace(world, device=device, backend=backend)
    # Only after a run that ended well: with a process gone, tearing down can hang.
    dist.destroy_process_group()


def _process_device(world: World, device: torch.device) -> torch.device:
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ConfigError(
            f"data-parallel training runs on CPUs (gloo) or CUDA GPUs (nccl), not on "
            f"{device.type}: set device=cpu, or run without torchrun"
        )
    visible = torch.cuda.device_count()
    if visible == 1:  # the launcher gave this process its own GPU
        index = 0
    elif world.local_rank < visible:
        index = world.local_rank
    else:
        raise ConfigError(
            f"process {world.rank} has LOCAL_RANK {world.local_rank} but this machine shows "
            f"{visible} GPUs: start at most {visible} processes per machine (--nproc-per-node)"
        )
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


# --- one Hydra output folder for every process ---------------------------------------


_announced = False  # whether rank 0 has told the others already


def announce_output_dir(folder: Path | None) -> None:
    """Rank 0 under torchrun: tell the others the output folder to join (None: there is no
    run to join). Only the first call counts."""
    global _announced
    world = launched_world()
    if _announced or not (world.is_main and world.is_distributed):
        return
    _shared_store().set(_output_dir_key(), NO_RUN if folder is None else str(folder))
    _announced = True


def announced_output_dir() -> Path | None:
    """The other ranks: wait for rank 0's output folder; None when it started no run."""
    folder = _shared_store().get(_output_dir_key()).decode()
    return None if folder == NO_RUN else Path(folder)


def _output_dir_key() -> str:
    # After a restart (torchrun --max-restarts) the store still holds the last attempt's.
    return OUTPUT_DIR_KEY.format(restart=os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


# --- the model ----------------------------------------------------------------------


class _DataParallel(DistributedDataParallel):
    """DDP that remembers which parameters it keeps in sync: those trainable when made."""

    def __init__(self, module: nn.Module, **options):
        super().__init__(module, **options)
        self.synchronized = _trainable_names(module)


def with_sync_batchnorm(model: nn.Module, world: World, wanted: bool) -> nn.Module:
    """Batch norm over the whole batch (statistics from every process), when wanted."""
    if not (wanted and world.is_distributed):
        return model
    if world.device.type != "cuda":
        raise ConfigError(
            "trainer.sync_batchnorm=true needs CUDA GPUs (torch's SyncBatchNorm does not run "
            "on CPUs); set it to false"
        )
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def for_training(model: nn.Module, world: World, current: nn.Module | None = None) -> nn.Module:
    """`model` as training steps call it: wrapped in DDP across processes, itself in one.

    Pass the wrapper in use as `current` after the model changed which parameters train
    (gradual unfreezing): DDP syncs only the parameters it was made with, so a new one is
    made then."""
    if not world.is_distributed:
        return model
    if isinstance(current, _DataParallel) and current.synchronized == _trainable_names(model):
        return current
    device_ids = [world.device.index] if world.device.type == "cuda" else None
    return _DataParallel(model, device_ids=device_ids)


def _trainable_names(model: nn.Module) -> tuple[str, ...]:
    return tuple(name for name, parameter in model.named_parameters() if parameter.requires_grad)


def gradients_held_back(model: nn.Module, update: bool):
    """No gradient exchange on a batch that only accumulates (trainer.accumulate_batches):
    the exchange on the step's last batch carries the sum."""
    if update or not isinstance(model, DistributedDataParallel):
        return nullcontext()
    return model.no_sync()


def sync_buffers(model: nn.Module, world: World) -> None:
    """Give every process rank 0's buffers (batch norm's running statistics): each process
    updated its own from its slice of the last batch."""
    if world.is_distributed:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def seed_random_streams(seed: int, epoch: int, world: World) -> None:
    """Dropout and augmentation draw from each process's own stream, seeded from the
    run's seed, the epoch and the rank: the same draws on every process would repeat
    one mask and one crop across the slices of a batch. Set anew each epoch, a resumed
    run draws what the uninterrupted one would have."""
    if world.is_distributed:
        state = np.random.SeedSequence([seed, epoch, world.rank]).generate_state(1)[0]
        torch.manual_seed(int(state))


# --- batches and shards -------------------------------------------------------------


def local_batch(
    inputs: torch.Tensor, targets: torch.Tensor, world: World
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """This process's slice of a global batch, and the weight of its mean loss: with it,
    the mean DDP takes of the processes' gradients is the whole batch's, also when the
    slices differ in size. One process: the batch itself, weight 1."""
    if not world.is_distributed:
        return inputs, targets, 1.0
    part = shard_slice(len(targets), world.rank, world.size)
    weight = (part.stop - part.start) * world.size / len(targets)
    return inputs[part], targets[part], weight


def shard_slice(count: int, rank: int, size: int) -> slice:
    """Rank `rank`'s contiguous share of `count` items; shares differ by one at most."""
    return slice(rank * count // size, (rank + 1) * count // size)


def shard(split: TensorSplit, world: World) -> TensorSplit:
    """This process's contiguous shard of a split (views, no copies)."""
    if not world.is_distributed:
        return split
    part = shard_slice(len(split), world.rank, world.size)
    return TensorSplit(split.x[part], split.y[part])


def gather_shards(local: torch.Tensor, total: int, world: World) -> torch.Tensor:
    """Every process's outputs on its shard of `total` examples, joined in order."""
    if not world.is_distributed:
        return local
    longest = -(-total // world.size)
    padded = local.new_zeros((longest, *local.shape[1:]))  # all_gather wants equal shapes
    padded[: len(local)] = local
    pieces = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(pieces, padded)
    sizes = [_length(shard_slice(total, rank, world.size)) for rank in range(world.size)]
    return torch.cat([piece[:size] for piece, size in zip(pieces, sizes, strict=True)])


def _length(part: slice) -> int:
    return part.stop - part.start


def sum_over_processes(values: torch.Tensor, world: World) -> torch.Tensor:
    """The element-wise sum of `values` over every process."""
    if world.is_distributed:
        values = values.clone()
        dist.all_reduce(values)
    return values


def everyone_continues(going_on: bool, world: World) -> bool:
    """True when no process wants to stop."""
    if not world.is_distributed:
        return going_on
    flag = torch.tensor([1 if going_on else 0], device=world.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def from_rank_zero(value, world: World):
    """Rank 0's `value` (any picklable object), on every process."""
    if not world.is_distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, device=world.device)
    return box[0]
