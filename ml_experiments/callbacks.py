"""Hydra callbacks: output-folder checks before Hydra creates it, and the sweep parent run."""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ml_experiments.paths import unwritable_reason


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
                "Set paths.outputs_dir (or hydra.run.dir / hydra.sweep.dir) to a writable folder."
            )


class SweepParentRun(Callback):
    """Open one MLflow parent run per multirun, before any job starts; summarize and end
    it when the sweep ends (FAILED if the sweep stops early or no job finished)."""

    def __init__(self) -> None:
        self.sweep = None
        self.sweep_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from ml_experiments import sweeps
        from ml_experiments.errors import UserError

        self.sweep_dir = sweeps.pin_sweep_dir(config)
        try:
            sweeps.check_overrides_fit_every_job(config)
            sweeps.check_study_storage(config)
            self.sweep = sweeps.start_parent_run(config)
        except UserError as error:
            sys.exit(f"error: {error}")
        # Hydra calls on_multirun_end only after a sweep that completed; a sweep that
        # raised or was stopped ends here. SIGTERM would skip atexit: make it an exit.
        atexit.register(self._end, completed=False)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._end(completed=True)

    def _end(self, completed: bool) -> None:
        from ml_experiments import sweeps

        if self.sweep is None:
            return
        sweep, self.sweep = self.sweep, None
        if sweeps.finish_parent_run(sweep, self.sweep_dir, completed) == "FINISHED":
            return
        where = f"The job logs in {self.sweep_dir}/<job number>/ and each run's end_reason tag"
        if completed:
            sys.exit(f"error: no job of the sweep finished. {where} say why.")
        # At exit: the process is ending anyway.
        print(
            f"error: the sweep stopped before its end; its parent run {sweep.parent_run_id} "
            f"is marked FAILED. {where} say what happened.",
            file=sys.stderr,
        )
