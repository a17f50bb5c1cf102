"""Checkpoints: plain dicts of tensors and primitives, written atomically.

They load with `torch.load(path, weights_only=True)`: no pickled classes, so a
checkpoint from an untrusted source cannot run code.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import torch

from ml_experiments.errors import CheckpointError

LAST = "last.pt"
BEST = "best.pt"


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
        os.replace(temporary, path)
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
            f"cannot read checkpoint {path}: it is damaged or not a checkpoint of this project "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            "Resume from another checkpoint, e.g. best.pt in the same folder."
        ) from error
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise CheckpointError(
            f"{path} is a torch file but not a training checkpoint of this project "
            "(no 'model' and 'epoch' entries)."
        )
    return state


def capture_rng_state(data_generator: torch.Generator) -> dict[str, Any]:
    """Every random state training draws from, so a resumed run repeats the same draws."""
    state = {
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
        "torch": torch.get_rng_state(),
        "data_order": data_generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any], data_generator: torch.Generator) -> None:
    random.setstate((state["python_version"], tuple(state["python"]), None))
    torch.set_rng_state(state["torch"])
    data_generator.set_state(state["data_order"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
