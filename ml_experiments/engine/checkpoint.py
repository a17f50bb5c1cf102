"""Checkpoints: plain dicts of tensors and primitives, written atomically.

They load with `torch.load(path, weights_only=True)`: no pickled classes, so a
checkpoint from an untrusted source cannot run code.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ml_experiments.config.build import dotted_items
from ml_experiments.errors import CheckpointError
from ml_experiments.paths import unwritable_reason

LAST = "last.pt"
BEST = "best.pt"


@dataclass
class ResumePoint:
    """A checkpoint to continue a run from: where it is, what it holds, and the weights of
    the best epoch so far (which the finished run will test)."""

    path: Path
    state: dict[str, Any]
    best_weights: dict[str, torch.Tensor]

    @property
    def run_id(self) -> str:
        return self.state["run_id"]


def run_folder(configured: str | Path, run_id: str) -> Path:
    """Where run `run_id` writes its checkpoints: its own folder under trainer.checkpoint.dir,
    so two runs that share that setting never overwrite each other's last.pt."""
    return Path(configured) / run_id


def resume_point(path: Path, current_config: dict[str, Any]) -> ResumePoint:
    """The checkpoint at `path`, checked to continue the run `current_config` describes."""
    state = load(path)
    mismatches = resume_mismatches(state["config"], current_config)
    if mismatches:
        raise CheckpointError(
            f"{path} was trained with other options; resuming would not continue the same "
            "run:\n  - " + "\n  - ".join(mismatches) + "\nResume with the original options."
        )
    return ResumePoint(path, state, best_weights_beside(path, state))


def check_writable(folder: Path) -> None:
    """Fail before training, not after its first epoch, when checkpoints cannot be saved."""
    reason = unwritable_reason(folder)
    if reason is not None:
        raise CheckpointError(
            f"cannot write checkpoints to {folder}: {reason}. Set trainer.checkpoint.dir to a "
            "writable folder, or trainer.checkpoint.enabled=false to train without them."
        )


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise CheckpointError(
            f"cannot write checkpoint {path}: {error.strerror or error}"
        ) from error
    # Readable like any other file the run writes (mkstemp creates it for its owner only).
    os.chmod(temporary, 0o644)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
        os.replace(temporary, path)
    except OSError as error:  # a full disk, say: the previous checkpoint is still whole
        Path(temporary).unlink(missing_ok=True)
        raise CheckpointError(
            f"cannot write checkpoint {path}: {error.strerror or error}. The previous one, if "
            "any, is intact; free space or set trainer.checkpoint.dir elsewhere."
        ) from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint not found: {path}. Pass trainer.resume=<path to last.pt> or the "
            "MLflow run id of the run to continue."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load fails in many ways (IndexError, EOFError, ...)
        raise CheckpointError(
            f"cannot read checkpoint {path}: it is damaged, cut short or not a checkpoint of "
            f"this project ({load_failure(error)}). Resume from another checkpoint, e.g. "
            "best.pt in the same folder."
        ) from error
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise CheckpointError(
            f"{path} is a torch file but not a training checkpoint of this project "
            "(no 'model' and 'epoch' entries)."
        )
    return state


def load_failure(error: Exception) -> str:
    """What went wrong, in a few words. torch's own text for a file it cannot unpickle
    advises weights_only=False, which would run any code the file holds: leave it out."""
    if isinstance(error, pickle.UnpicklingError):
        if "Unsupported global" in str(error):
            return "it holds Python objects other than tensors and plain values"
        return "its contents cannot be unpickled"
    if isinstance(error, (KeyError, EOFError)) or not str(error):
        return f"not a torch file, or an incomplete one: {type(error).__name__}"
    return f"{type(error).__name__}: {str(error).split('. ')[0]}"


def capture_rng_state(data_generator: torch.Generator, device: torch.device) -> dict[str, Any]:
    """Every random state training draws from, so a resumed run repeats the same draws.

    (NumPy's generator is not among them: training never draws from it.)
    """
    state = {
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
        "torch": torch.get_rng_state(),
        "data_order": data_generator.get_state(),
    }
    if device.type == "cuda":  # touching CUDA otherwise would start a context on every GPU
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(
    state: dict[str, Any], data_generator: torch.Generator, device: torch.device
) -> None:
    random.setstate((state["python_version"], tuple(state["python"]), None))
    torch.set_rng_state(state["torch"])
    data_generator.set_state(state["data_order"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


# Options whose change makes a checkpoint's saved state mean something else.
RESUME_MUST_MATCH = (
    "seed",
    "dataset",
    "model",
    "optimizer",
    "scheduler",
    "trainer.batch_size",
    "trainer.limit_train_batches",
    "trainer.amp",
    "trainer.monitor",
)
# Where the data is may change between machines; what it is may not.
DATA_LOCATION_KEYS = ("dataset.root", "dataset.path", "dataset.download")
# Schedules whose shape depends on the run's length.
LENGTH_DEPENDENT_SCHEDULES = ("CosineAnnealingLR", "OneCycleLR")


def resume_mismatches(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The options that differ between a checkpoint's config and this run's."""
    keys = list(RESUME_MUST_MATCH)
    if str(current["scheduler"].get("_target_")).endswith(LENGTH_DEPENDENT_SCHEDULES):
        keys.append("trainer.max_epochs")
    before, now = _flatten(saved, keys), _flatten(current, keys)
    return [
        f"{key}: {before.get(key)} in the checkpoint, {now.get(key)} now"
        for key in sorted(before.keys() | now.keys())
        if before.get(key) != now.get(key) and key not in DATA_LOCATION_KEYS
    ]


def _flatten(config: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """The leaves under each of `keys` (dotted paths) of a nested config."""
    flat: dict[str, Any] = {}
    for key in keys:
        node: Any = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        flat |= dotted_items(node, key)
    return flat


def best_weights_beside(last_path: Path, state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights of the best epoch so far: from best.pt beside last.pt, checked to match."""
    best_path = last_path.parent / BEST
    if best_path.exists():
        best = load(best_path)
        if best["epoch"] == state["best_epoch"]:
            return best["model"]
        found = f"{best_path} holds epoch {best['epoch']}"
    elif state["best_epoch"] == state["epoch"]:
        return state["model"]
    else:
        found = f"there is no {best_path}"
    raise CheckpointError(
        f"{last_path} says the best epoch was {state['best_epoch']}, but {found}. Keep best.pt "
        "beside last.pt when you move checkpoints."
    )
