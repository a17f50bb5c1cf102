"""Data-parallel training's parts: the slices of a batch, the shards of a split, the
collective steps between real processes (two, over gloo), and the config rules for
several processes. torchrun itself runs in tests/e2e/test_ddp.py."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hydra import compose, initialize_config_dir

from ml_experiments.config.rules import check_config
from ml_experiments.config.store import register_configs
from ml_experiments.data import TensorSplit
from ml_experiments.engine import distributed
from ml_experiments.engine.distributed import SINGLE, World
from ml_experiments.engine.loop import steps_in_epoch
from ml_experiments.errors import ConfigError
from tests.helpers.running import PROJECT_ROOT


@pytest.mark.parametrize("count", [1, 2, 7, 64, 101])
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_the_shards_of_a_split_cover_every_example_once_in_order(count, size):
    parts = [distributed.shard_slice(count, rank, size) for rank in range(size)]
    covered = [index for part in parts for index in range(count)[part]]
    assert covered == list(range(count))
    lengths = [part.stop - part.start for part in parts]
    assert max(lengths) - min(lengths) <= 1


def test_the_weighted_slice_losses_average_to_the_whole_batch_loss():
    """DDP averages the processes' gradients; the weights make that the batch's mean."""
    losses = torch.arange(11, dtype=torch.float64) ** 2  # 11 examples over 3 processes
    averaged, seen = 0.0, []
    for rank in range(3):
        inputs, local, weight = distributed.local_batch(losses, losses, World(rank=rank, size=3))
        averaged += weight * local.mean().item() / 3
        seen += inputs.tolist()
    assert averaged == pytest.approx(losses.mean().item(), rel=1e-12)
    assert seen == losses.tolist()  # every example in one slice


def test_one_process_takes_the_whole_batch_with_weight_one():
    inputs, targets = torch.zeros(64, 3), torch.zeros(64)
    local_inputs, local_targets, weight = distributed.local_batch(inputs, targets, SINGLE)
    assert local_inputs is inputs and local_targets is targets and weight == 1.0
    split = TensorSplit(torch.zeros(5, 2), torch.zeros(5))
    assert distributed.shard(split, SINGLE) is split


@pytest.mark.parametrize(
    ("examples", "processes", "batches"),
    [
        (129, 1, 2),  # one process: a lone last example is left out, as before
        (130, 1, 3),
        (131, 2, 2),  # 3 left over: fewer than two for each of 2 processes
        (132, 2, 3),
        (64, 2, 1),  # a single batch is always kept
    ],
)
def test_a_last_batch_too_small_for_every_process_is_left_out(examples, processes, batches):
    from ml_experiments.config.schemas import TrainerConfig

    split = TensorSplit(torch.zeros(examples, 1), torch.zeros(examples))
    assert steps_in_epoch(split, TrainerConfig(batch_size=64), processes) == batches


# --- real processes ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _collectives(rank: int, port: int, results: mp.SimpleQueue) -> None:
    """Run in each of two processes: what every collective step gives there."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    world = World(rank=rank, size=2)
    total = 7  # shards of 3 and 4 examples
    part = distributed.shard_slice(total, rank, 2)
    local = torch.arange(total, dtype=torch.float32).repeat(3, 1).T[part]  # rows 0..6
    summed = distributed.sum_over_processes(torch.tensor([float(rank + 1)]), world)
    model = torch.nn.BatchNorm1d(2)
    model.running_mean.fill_(rank)
    distributed.sync_buffers(model, world)
    seen = {
        "gathered": distributed.gather_shards(local, total, world)[:, 0].tolist(),
        "summed": summed.item(),
        "continues": distributed.everyone_continues(rank == 0, world),
        "from_rank_zero": distributed.from_rank_zero(f"value of rank {rank}", world),
        "running_mean": model.running_mean.tolist(),
    }
    results.put((rank, seen))
    dist.destroy_process_group()


def test_collective_steps_give_every_process_the_numbers_of_one():
    # Forked: a spawned process would import torch and the package again (seconds).
    results = mp.get_context("fork").SimpleQueue()
    mp.start_processes(_collectives, args=(_free_port(), results), nprocs=2, start_method="fork")
    seen = dict(results.get() for _ in range(2))
    for rank in range(2):
        assert seen[rank] == {
            "gathered": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],  # every row once, in order
            "summed": 3.0,
            "continues": False,  # rank 1 wanted to stop
            "from_rank_zero": "value of rank 0",
            "running_mean": [0.0, 0.0],
        }


# --- the config rules for several processes -------------------------------------------


def composed(*overrides: str):
    register_configs()
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base=None):
        return compose("config", overrides=["paths.run_dir=/tmp/run", *overrides])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=sklearn_linear"], "model=sklearn_linear is fitted by scikit-learn"),
        (["experiment=fake_news_tfidf"], "model=tfidf_logreg is fitted by scikit-learn"),
        (["trainer.batch_size=1"], "trainer.batch_size=1 is the whole batch"),
    ],
)
def test_what_cannot_train_in_several_processes_is_refused(overrides, message):
    cfg = composed(*overrides)
    check_config(cfg)  # fine in one process
    with pytest.raises(ConfigError, match=message):
        check_config(cfg, processes=2)


def test_an_unknown_backend_is_refused():
    with pytest.raises(ConfigError, match="trainer.distributed.backend=glo is not one of"):
        check_config(composed("trainer.distributed.backend=glo"))


def test_one_process_is_single_without_torchrun(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "SUBMITIT_EXECUTOR"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.launched_world() is SINGLE
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.launched_world() == World(rank=3, local_rank=1, size=4)
