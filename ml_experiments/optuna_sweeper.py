"""Hyperparameter search with a current Optuna behind Hydra's sweeper interface.

Why the project's own sweeper and not Hydra's `hydra-optuna-sweeper`: its last release
(1.3.0) requires optuna<3, whose database storage does not work with SQLAlchemy 2 (which
MLflow requires), so a study could only live in memory: no resuming, no sharing, no
pruning, no optuna-dashboard. Its only newer version is a release candidate (1.4.0rc3).
This sweeper asks Optuna's ask-and-tell API for trials, keeps that plugin's config
(`hydra.sweeper.params` with `interval`, `tag(log, ...)`, `choice`, `range`;
`direction`, `study_name`, `storage`, `n_trials`, `n_jobs`, `max_failure_rate`,
`hydra/sweeper/sampler=...`) and adds a stored study by default, continuation, sharing
and pruning (`tuning/study.py`, `tuning/trial.py`).

One sweep: open the study -> retry trials a dead sweep left RUNNING -> (grid: queue the
points not run yet) -> ask up to `n_jobs` trials -> launch them as one batch -> tell
each its value (COMPLETE), PRUNED or FAIL -> again until the study has `n_trials`.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from functools import partial
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from omegaconf import DictConfig, OmegaConf
from optuna.trial import Trial, TrialState

from ml_experiments.errors import ConfigError
from ml_experiments.paths import without_credentials
from ml_experiments.tuning import search_space
from ml_experiments.tuning import study as studies

log = logging.getLogger(__name__)
RESULTS_FILE = "optimization_results.yaml"
PLAIN_VALUE = re.compile(r"[\w.:/+\-@]*")


class StudySweeper:
    def __init__(
        self,
        sampler: partial,
        direction: str,
        storage: str | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        pruner: str,
        params: DictConfig | None,
    ) -> None:
        _check_settings(direction, n_trials, n_jobs, max_failure_rate)
        self.sampler = sampler
        self.direction = direction
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.pruner = studies.make_pruner(pruner)
        self.params = params or {}

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.sweep_dir = Path(config.hydra.sweep.dir)
        # A sweep run again in its folder numbers its jobs after the earlier ones.
        folders = self.sweep_dir.glob("*") if self.sweep_dir.is_dir() else []
        self.job_idx = 1 + max((int(f.name) for f in folders if f.name.isdigit()), default=-1)

    def sweep(self, arguments: list[str]) -> list[list[JobReturn]]:
        searched, fixed = search_space.parse(
            [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        )
        study = self._open_study(searched)
        # The multirun's config beside its jobs, as Hydra's basic sweeper saves it.
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")
        n_trials = self.n_trials
        if self._is_grid():
            points = search_space.grid_points(searched)
            n_trials = min(n_trials, len(points))
            studies.enqueue_grid(study, points)
        batches = []
        while trials := self._ask_batch(study, n_trials, searched):
            batch = self._launch(study, trials, searched, fixed)
            batches.append(batch)
            self._tell_batch(study, trials, batch)
        _write_results(study, self.sweep_dir / RESULTS_FILE)
        return batches

    # --- the study --------------------------------------------------------------

    def _open_study(self, searched: dict) -> optuna.Study:
        storage = studies.storage_for(self.storage)
        name = self.study_name or "sweep"
        study = studies.open_study(name, storage, [self.direction], self.pruner)
        studies.retry_abandoned_trials(study)
        done = len(studies.finished_trials(study))
        # Continuing, or joining another process: seed past the draws already made.
        study.sampler = self._sampler(searched, seed_offset=len(studies.started_trials(study)))
        where = "memory" if storage is None else without_credentials(self.storage)
        log.info(
            "Optuna %s study %r in %s: %d of %d trials already run; %s, pruner %s",
            optuna.__version__, name, where, done, self.n_trials,
            type(study.sampler).__name__, type(self.pruner).__name__,
        )  # fmt: skip
        return study

    def _sampler(self, searched: dict, seed_offset: int) -> optuna.samplers.BaseSampler:
        """The configured sampler, given only the settings it takes: switching
        `hydra/sweeper/sampler=random` keeps working when a file set TPE's n_startup_trials."""
        settings = dict(self.sampler.keywords)
        if settings.get("seed") is not None:
            settings["seed"] = int(settings["seed"]) + seed_offset
        if self._is_grid():
            points = search_space.grid_points(searched)
            settings["search_space"] = {key: _unique(p[key] for p in points) for key in searched}
        takes = inspect.signature(self.sampler.func).parameters
        given = {key: value for key, value in settings.items() if value is not None}
        if ignored := sorted(set(given) - set(takes)):
            log.info("%s takes no %s: ignored", self.sampler.func.__name__, ", ".join(ignored))
        return self.sampler.func(**{key: value for key, value in given.items() if key in takes})

    def _is_grid(self) -> bool:
        return self.sampler.func is optuna.samplers.GridSampler

    def _ask_batch(self, study: optuna.Study, n_trials: int, searched: dict) -> list[Trial]:
        trials = []
        while len(trials) < self.n_jobs:
            trial = studies.ask_within(study, n_trials, searched)
            if trial is None:
                break
            trials.append(trial)
        return trials

    # --- the jobs ---------------------------------------------------------------

    def _launch(self, study, trials: list[Trial], searched: dict, fixed: dict) -> list[JobReturn]:
        overrides = [_job_overrides(trial, searched, fixed) for trial in trials]
        with studies.heartbeats(study, trials):
            batch = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
        self.job_idx += len(batch)
        return list(batch)

    def _tell_batch(self, study: optuna.Study, trials: list[Trial], batch) -> None:
        failures = [self._tell(study, trial, job) for trial, job in zip(trials, batch, strict=True)]
        failed = [failure for failure in failures if failure]
        if len(failed) / len(batch) > self.max_failure_rate:
            raise RuntimeError(
                f"{len(failed)} of {len(batch)} trials of a batch failed, more than "
                f"hydra.sweeper.max_failure_rate={self.max_failure_rate}: {failed[0]}"
            )

    def _tell(self, study: optuna.Study, trial: Trial, job: JobReturn) -> str:
        """Record the job's outcome in its trial; the reason it failed, or ''."""
        attrs = study._storage.get_trial_user_attrs(trial._trial_id)
        if studies.PRUNED_AT_EPOCH in attrs:
            _tell(study, trial, state=TrialState.PRUNED)
            return ""
        try:
            value = float(job.return_value)  # re-raises the job's exception
        except Exception as error:
            reason = f"trial {trial.number}: {type(error).__name__}: {error}"
        else:
            if math.isfinite(value):
                _tell(study, trial, values=value)
                return ""
            reason = f"trial {trial.number}: the objective is {value}"
        log.warning("failed %s", reason)
        _tell(study, trial, state=TrialState.FAIL)
        return reason


def _check_settings(direction: str, n_trials: int, n_jobs: int, max_failure_rate: float) -> None:
    if direction not in ("minimize", "maximize"):
        raise ConfigError(f"hydra.sweeper.direction={direction}: use minimize or maximize")
    if n_trials < 1 or n_jobs < 1:
        raise ConfigError("hydra.sweeper.n_trials and hydra.sweeper.n_jobs must be at least 1")
    if not 0.0 <= max_failure_rate <= 1.0:
        raise ConfigError("hydra.sweeper.max_failure_rate must be between 0 and 1")


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def _tell(study: optuna.Study, trial: Trial, **outcome: Any) -> None:
    try:
        study.tell(trial, **outcome)
    except RuntimeError as error:
        # The grid sampler asks the study to stop once every point ran: a request meant
        # for study.optimize. The trial's outcome is already stored.
        if "Study.stop" not in str(error):
            raise


def _job_overrides(trial: Trial, searched: dict, fixed: dict) -> list[str]:
    """The trial's values as overrides, in the order the keys were given, then the fixed
    keys; and, for the job's process, the trial it reports to."""
    values = [f"{key}={_as_override(trial.params[key])}" for key in searched]
    values += [f"{key}={value}" for key, value in fixed.items()]
    return [*values, f"++hydra.job.env_set.{studies.TRIAL_ENV}={trial.number}"]


def _as_override(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    if (
        isinstance(value, str)
        and not text.startswith(("[", "{"))
        and not PLAIN_VALUE.fullmatch(text)
    ):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def _write_results(study: optuna.Study, path: Path) -> None:
    """Optuna's best trial and the study's counts, beside the sweep's jobs."""
    states = [trial.state for trial in studies.counted_trials(study)]
    results: dict[str, Any] = {
        "name": "optuna",
        "study_name": study.study_name,
        "optuna_version": optuna.__version__,
        "trials": {
            state.name.lower(): states.count(state) for state in TrialState if state in states
        },
    }
    try:
        best = study.best_trial
    except ValueError:  # no trial completed
        log.warning("no trial of study %r completed", study.study_name)
    else:
        results |= {"best_params": best.params, "best_value": best.value, "best_trial": best.number}
        log.info("best trial %d: %s = %s", best.number, best.params, best.value)
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(results), path)
