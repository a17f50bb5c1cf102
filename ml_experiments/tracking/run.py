"""One MLflow run's lifecycle: open (or reopen) it, log what identifies it, and end it
FINISHED, FAILED or KILLED whatever happens inside.

Under torchrun, rank 0 alone opens and ends the run; the other processes log through a
`RankLogger`, which writes nothing."""

from __future__ import annotations

import logging
import re
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ml_experiments import paths
from ml_experiments.config.build import dotted_items
from ml_experiments.engine import distributed
from ml_experiments.engine.checkpoint import run_folder
from ml_experiments.engine.distributed import SINGLE, World
from ml_experiments.errors import StopRequested, TrialPruned
from ml_experiments.tracking.logger import RunLogger
from ml_experiments.tracking.stopping import STOP_SIGNALS, stop_signals_end_the_run, store_write
from ml_experiments.tracking.store import (
    CHECKPOINT_DIR_TAG,
    PRUNED_TAG,
    check_resumes_the_named_run,
    experiment_id_for,
    git_commit,
    mark_abandoned_runs_killed,
    prepare_store,
    process_tags,
    status_of,
    without_credentials,
)
from ml_experiments.tracking.sweep_record import Sweep, child_run_name
from ml_experiments.tuning.trial import TrialLink

log = logging.getLogger(__name__)
SYSTEM_METRICS_SECONDS = 2
CREDENTIALS = re.compile(r"://[^/@\s]+@")  # user:password@ in a database URL


@dataclass
class RunContext:
    """What Hydra knows about this job, for names and tags."""

    output_dir: Path
    overrides: list[str]
    choices: dict[str, str]  # config group -> chosen option, e.g. {"model": "mlp"}
    job_number: int | None  # the job's number in a multirun, None for a single run
    sweep: Sweep | None = None  # the multirun's parent run, when one was opened
    trial: TrialLink | None = None  # the Optuna trial this job runs for, in a stored study


def run_name(cfg: DictConfig, context: RunContext) -> str:
    """`boston_linear: linear on boston`; in a sweep, the job's number and what it varies
    first: `#3 optimizer.lr=0.01 (boston_linear: linear on boston)`."""
    name = f"{cfg.name}: {context.choices.get('model')} on {context.choices.get('dataset')}"
    if context.sweep is not None:
        job = child_run_name(context.job_number, context.overrides, context.sweep.swept_keys)
        return f"{job} ({name})"
    return name if context.job_number is None else f"{name} #{context.job_number}"


def loggable_config(cfg: DictConfig) -> dict:
    """The resolved config as a plain dict, with credentials taken out of the store URI."""
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    plain["logger"]["tracking_uri"] = without_credentials(plain["logger"]["tracking_uri"])
    return plain


def flat_params(cfg: DictConfig) -> dict[str, str]:
    """The resolved config as `group.key` -> value, the way MLflow params want it."""
    return {key: str(value) for key, value in dotted_items(loggable_config(cfg)).items()}


def _system_metrics(wanted: bool) -> bool:
    """MLflow samples every 10 s by default, longer than many runs here: every 2 s."""
    if wanted:
        import mlflow

        mlflow.set_system_metrics_sampling_interval(SYSTEM_METRICS_SECONDS)
        mlflow.set_system_metrics_samples_before_logging(1)
    return wanted


class RankLogger:
    """What every process but rank 0 logs through: it knows the run's id and writes nothing."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.logged_metrics = False
        self.model_id = None
        self.test_dataset = None

    def __getattr__(self, name: str):
        if callable(getattr(RunLogger, name, None)):  # any of RunLogger's writes
            return lambda *args, **kwargs: None
        raise AttributeError(name)


@contextmanager
def tracked_run(
    cfg: DictConfig, context: RunContext, resume_run_id: str | None = None, world: World = SINGLE
) -> Iterator[RunLogger | RankLogger]:
    """Open (or reopen) the MLflow run; end it FINISHED, FAILED or KILLED."""
    if not world.is_main:
        yield RankLogger(distributed.from_rank_zero(None, world))
        return
    with _opened_run(cfg, context, resume_run_id, world) as run_logger:
        yield run_logger


@contextmanager
def _opened_run(
    cfg: DictConfig, context: RunContext, resume_run_id: str | None, world: World
) -> Iterator[RunLogger]:
    import mlflow

    # A sweep's jobs log to the store its parent run is in, wherever they run.
    prepare_store(context.sweep.tracking_uri if context.sweep else cfg.logger.tracking_uri)
    system_metrics = _system_metrics(cfg.logger.system_metrics)
    if resume_run_id is None:
        run = mlflow.start_run(
            experiment_id=_experiment_id(cfg, context),
            run_name=run_name(cfg, context),
            tags=_tags(context),
            parent_run_id=context.sweep.parent_run_id if context.sweep else None,
            log_system_metrics=system_metrics,
        )
        log_folder = "logs"
        status_before = None
    else:
        check_resumes_the_named_run(str(cfg.trainer.resume), resume_run_id)
        status_before = status_of(resume_run_id)
        run = mlflow.start_run(run_id=resume_run_id, log_system_metrics=system_metrics)
        log_folder = f"logs/resumed_{context.output_dir.name}"  # keep the first part's log
    log.info("MLflow run %s in %s", run.info.run_id, without_credentials(cfg.logger.tracking_uri))
    run_logger = RunLogger(run.info.run_id)
    # From here on the run exists: whatever happens, it must end with a status.
    with _SignalsWaitForTheEnd() as ending, _ended(context, log_folder, status_before, run_logger):
        with stop_signals_end_the_run():
            ending.raise_held()
            with store_write():
                if resume_run_id is None:
                    mlflow.log_params(flat_params(cfg))
                    checkpoints = run_folder(cfg.trainer.checkpoint.dir, run.info.run_id)
                    mlflow.set_tag(CHECKPOINT_DIR_TAG, str(checkpoints))
                    _log_config_files(cfg, context)
                else:
                    mlflow.set_tag("resumed_in", str(context.output_dir))
                # Whichever process runs it now: a later run finds it abandoned if this dies.
                mlflow.set_tags(process_tags() | _distributed_tags(world))
                mark_abandoned_runs_killed(run.info.experiment_id, run.info.run_id)
            distributed.from_rank_zero(run.info.run_id, world)  # the others wait for it
            yield run_logger


@contextmanager
def _ended(
    context: RunContext, log_folder: str, status_before: str | None, run_logger: RunLogger
) -> Iterator[None]:
    """End the run inside with the status that fits how it ended."""
    try:
        yield
    except TrialPruned as pruned:
        _end_run(context, log_folder, "KILLED", str(pruned), pruned=True)
        raise
    except BaseException as error:
        stopped = isinstance(error, (KeyboardInterrupt, StopRequested))
        reason = f"{type(error).__name__}: {error}"
        trace = "" if stopped else traceback.format_exc()
        if status_before is not None and not run_logger.logged_metrics:
            # A resume that failed before training (wrong data, a checkpoint that does not
            # fit) changed nothing: the run keeps its status and can still be resumed.
            _end_run(context, log_folder, status_before, reason, reason_tag="failed_resume")
        else:
            _end_run(context, log_folder, "KILLED" if stopped else "FAILED", reason, trace)
        raise
    else:
        _end_run(context, log_folder, "FINISHED")


class _SignalsWaitForTheEnd:
    """While a run is being ended, a first stop signal waits until its status is written,
    then acts; a second acts at once, for a store that hangs. (torchrun sends SIGTERM to
    every process as soon as one fails: just as this one ends its run FAILED.) During
    training, the handler of `stopping.stop_signals_end_the_run` stands in front of it."""

    def __init__(self):
        self.held: int | None = None
        self.previous = {}

    def __enter__(self) -> _SignalsWaitForTheEnd:
        if threading.current_thread() is threading.main_thread():  # else no handlers
            self.previous = {signum: signal.signal(signum, self._hold) for signum in STOP_SIGNALS}
        return self

    def _hold(self, signum: int, _frame) -> None:
        if self.held is not None:
            signal.signal(signum, self.previous[signum] or signal.SIG_DFL)
            signal.raise_signal(signum)
        self.held = signum

    def raise_held(self) -> None:
        """Once training's handler is in place: a signal held just before stops the run."""
        held, self.held = self.held, None
        if held is not None:
            raise StopRequested(held)

    def __exit__(self, kind, error, trace) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler or signal.SIG_DFL)
        if self.held is not None and kind is None:  # the run ended well; now stop as asked
            signal.raise_signal(self.held)


def _distributed_tags(world: World) -> dict[str, str]:
    if not world.is_distributed:
        return {}
    return {"processes": str(world.size), "distributed_backend": str(world.backend)}


def _experiment_id(cfg: DictConfig, context: RunContext) -> str:
    if context.sweep is not None:
        return context.sweep.experiment_id  # all jobs of a sweep beside their parent
    artifact_root = paths.artifact_root_for(cfg.logger.tracking_uri, cfg.paths.outputs_dir)
    return experiment_id_for(cfg.logger.experiment_name, artifact_root)


def _tags(context: RunContext) -> dict[str, str]:
    trial = context.trial
    optuna = (
        {}
        if trial is None
        else {"optuna_study": trial.study_name, "optuna_trial": str(trial.number)}
    )
    return optuna | {
        "git_commit": git_commit(),
        "dataset": str(context.choices.get("dataset")),
        "model": str(context.choices.get("model")),
        "optimizer": str(context.choices.get("optimizer")),
        "scheduler": str(context.choices.get("scheduler")),
        "experiment": str(context.choices.get("experiment")),
        "overrides": " ".join(context.overrides),
        "output_dir": str(context.output_dir),
    }


def _log_config_files(cfg: DictConfig, context: RunContext) -> None:
    import mlflow

    resolved = OmegaConf.to_yaml(OmegaConf.create(loggable_config(cfg)))
    mlflow.log_text(resolved, "config/config_resolved.yaml")
    hydra_dir = context.output_dir / ".hydra"
    for path in sorted(hydra_dir.glob("*.yaml")):
        # hydra.yaml holds the sweeper's storage URL, password and all.
        mlflow.log_text(CREDENTIALS.sub("://***@", path.read_text()), f"config/hydra/{path.name}")


def _end_run(
    context: RunContext,
    log_folder: str,
    status: str,
    reason: str = "",
    trace: str = "",
    reason_tag: str = "end_reason",
    pruned: bool = False,
) -> None:
    """Save the log (and the failure), then set the final status. Never masks the real error."""
    import mlflow

    try:
        if reason:
            mlflow.set_tag(reason_tag, reason[:5000])
        if pruned:
            mlflow.set_tag(PRUNED_TAG, "true")
        if trace:
            mlflow.log_text(trace, "error/traceback.txt")
        for handler in logging.getLogger().handlers:
            handler.flush()
        for log_file in context.output_dir.glob("*.log"):
            mlflow.log_artifact(str(log_file), log_folder)
    except Exception:  # the store may be the thing that failed
        log.exception("could not save the log and error artifacts of the run")
    try:
        mlflow.end_run(status=status)
        log.info("MLflow run ended %s", status)
    except Exception:  # never let a store failure hide the error that ended the run
        log.exception("could not mark the MLflow run %s", status)
