"""The process-wide setup of a run: seeds, device and threads."""

from __future__ import annotations

import atexit
import gc
import logging
import random

import numpy as np
import torch

from ml_experiments.errors import ConfigError

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def select_device(requested: str) -> torch.device:
    """`auto` picks CUDA, then Apple MPS, then the CPU; an explicit choice must exist."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if requested == "auto":
        requested = next(name for name in ("cuda", "mps", "cpu") if available[name])
    elif not available[requested]:
        raise ConfigError(
            f"device={requested} was requested but this machine has no {requested.upper()} "
            "device that torch can use. Use device=auto or device=cpu."
        )
    log.info("device: %s", requested)
    return torch.device(requested)


# Read once at import: sweeps run many jobs in one process, and a job without
# device.threads must not inherit the count an earlier job set.
DEFAULT_THREADS = torch.get_num_threads()


# Python collects every object once more as a process ends: some 3 s with torch, MLflow
# and scikit-learn loaded, for memory the system takes back anyway. train.py skips it for
# the launching process; this skips it for every process that runs a job, joblib's
# workers included (their launcher waits for them to end).
atexit.register(gc.freeze)


def set_threads(threads: int | None) -> None:
    torch.set_num_threads(threads or DEFAULT_THREADS)
    log.info("torch threads: %d", torch.get_num_threads())
