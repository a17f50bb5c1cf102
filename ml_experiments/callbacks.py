"""Hydra callbacks: checks that must run before Hydra creates the job's output folder."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def unwritable_reason(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (created if missing), or None when they can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None


class CheckOutputDir(Callback):
    """Exit with one clear line, instead of Hydra's traceback, when outputs cannot be written."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(Path(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(Path(config.hydra.sweep.dir))

    @staticmethod
    def _check(folder: Path) -> None:
        # The parent: the job's own folder has a timestamp Hydra has not chosen yet.
        reason = unwritable_reason(folder.absolute().parent)
        if reason is not None:
            sys.exit(
                f"error: cannot write the run's output folder {folder}: {reason}. "
                "Set paths.outputs_dir to a writable folder."
            )
