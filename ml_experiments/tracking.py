"""Everything MLflow: the store, the run's lifecycle and status, what gets logged.

MLflow is imported inside functions: `--help` and `--cfg job` never pay for it.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from omegaconf import DictConfig, OmegaConf

from ml_experiments.building import dotted_items
from ml_experiments.config import PROJECT_ROOT
from ml_experiments.errors import CheckpointError, StopRequested, UserError
from ml_experiments.stopping import stop_signals_end_the_run, store_write, uninterrupted
from ml_experiments.sweeps import Sweep, child_run_name

log = logging.getLogger(__name__)

RUN_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
CHECKPOINT_DIR_TAG = "checkpoint_dir"


@dataclass
class RunContext:
    """What Hydra knows about this job, for names and tags."""

    output_dir: Path
    overrides: list[str]
    choices: dict[str, str]  # config group -> chosen option, e.g. {"model": "mlp"}
    job_number: int | None  # the job's number in a multirun, None for a single run
    sweep: Sweep | None = None  # the multirun's parent run, when one was opened


def run_name(cfg: DictConfig, context: RunContext) -> str:
    """`boston_linear: linear on boston`; in a sweep, the job's number and what it varies
    first: `#3 optimizer.lr=0.01 (boston_linear: linear on boston)`."""
    name = f"{cfg.name}: {context.choices.get('model')} on {context.choices.get('dataset')}"
    if context.sweep is not None:
        job = child_run_name(context.job_number, context.overrides, context.sweep.swept_keys)
        return f"{job} ({name})"
    return name if context.job_number is None else f"{name} #{context.job_number}"


def default_tracking_uri(outputs_dir: str | Path) -> str:
    """The store runs log to (as conf/logger/mlflow.yaml sets it): MLFLOW_TRACKING_URI,
    else the SQLite file in the outputs folder."""
    local = f"sqlite:///{Path(outputs_dir).resolve()}/mlflow.db"
    return os.environ.get("MLFLOW_TRACKING_URI", local)


def artifact_root_for(tracking_uri: str, outputs_dir: str) -> str | None:
    """Where a new experiment keeps its artifacts: never the cwd-relative ./mlruns.

    A local SQLite store keeps them beside the database file; another database
    (PostgreSQL, MySQL) under the outputs folder; a tracking server decides itself.
    """
    if tracking_uri.startswith(("http://", "https://", "databricks")):
        return None
    if tracking_uri.startswith("sqlite:///"):
        return (_sqlite_path(tracking_uri).parent / "mlartifacts").as_uri()
    return (Path(outputs_dir).resolve() / "mlartifacts").as_uri()


def _sqlite_path(tracking_uri: str) -> Path:
    # sqlite:///relative.db is relative to the working directory, as MLflow reads it.
    return Path(tracking_uri.removeprefix("sqlite:///")).resolve()


def prepare_store(tracking_uri: str) -> None:
    """Point MLflow at the store, creating the SQLite file's folder if needed."""
    import mlflow

    if tracking_uri.startswith("sqlite:///"):
        folder = _sqlite_path(tracking_uri).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(
                f"cannot create the MLflow store folder {folder}: {error}. Set "
                "paths.outputs_dir to a writable folder, or MLFLOW_TRACKING_URI to another store."
            ) from error
    mlflow.set_tracking_uri(tracking_uri)
    if tracking_uri.startswith("sqlite:///"):
        _create_sqlite_tables_locked(tracking_uri)


def _create_sqlite_tables_locked(tracking_uri: str) -> None:
    """Create (or migrate) the SQLite store's tables under a file lock: two runs started
    at once on a new store would otherwise both create them, and one would crash."""
    import fcntl

    import mlflow

    lock_path = _sqlite_path(tracking_uri).with_suffix(".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            mlflow.MlflowClient(tracking_uri).search_experiments(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def experiment_id_for(name: str, artifact_root: str | None) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise UserError(
                f"the MLflow experiment {name!r} was deleted. Restore it with `mlflow experiments "
                f"restore --experiment-id {experiment.experiment_id}`, purge it with `mlflow gc`, "
                "or log under another name: name=<new name>."
            )
        return experiment.experiment_id
    location = None if artifact_root is None else f"{artifact_root}/{_safe_folder_name(name)}"
    try:
        # The kind tag opens the UI on its training-runs view rather than the GenAI one.
        tags = {"mlflow.experimentKind": "custom_model_development"}
        return mlflow.create_experiment(name, artifact_location=location, tags=tags)
    except MlflowException:
        # Another process created it between our lookup and our create.
        return mlflow.get_experiment_by_name(name).experiment_id


def without_credentials(uri: str) -> str:
    """The URI with any user:password@ removed, fit to be logged."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def loggable_config(cfg: DictConfig) -> dict:
    """The resolved config as a plain dict, with credentials taken out of the store URI."""
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    plain["logger"]["tracking_uri"] = without_credentials(plain["logger"]["tracking_uri"])
    return plain


def flat_params(cfg: DictConfig) -> dict[str, str]:
    """The resolved config as `group.key` -> value, the way MLflow params want it."""
    return {key: str(value) for key, value in dotted_items(loggable_config(cfg)).items()}


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def run_id_of_checkpoint_target(target: str) -> str | None:
    return target if RUN_ID_PATTERN.fullmatch(target) else None


def checkpoint_dir_of_run(run_id: str) -> Path:
    """Where a run wrote its checkpoints (recorded as a tag when it started)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        run = mlflow.get_run(run_id)
    except MlflowException as error:
        raise CheckpointError(
            f"no MLflow run with id {run_id} in {mlflow.get_tracking_uri()}. "
            "Check the id in the MLflow UI, or pass trainer.resume=<path to last.pt>."
        ) from error
    folder = run.data.tags.get(CHECKPOINT_DIR_TAG)
    if folder is None:
        raise CheckpointError(f"run {run_id} recorded no checkpoint folder; it cannot be resumed.")
    return Path(folder)


class RunLogger:
    """The active run, seen from the training code: metrics, params, artifacts, models."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.logged_metrics = False

    @uninterrupted
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import mlflow

        mlflow.log_metrics(metrics, step=step)
        self.logged_metrics = True

    @uninterrupted
    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        mlflow.log_params(params)

    @uninterrupted
    def log_text(self, text: str, name: str) -> None:
        import mlflow

        mlflow.log_text(text, name)

    @uninterrupted
    def log_dict(self, values: dict, name: str) -> None:
        import mlflow

        mlflow.log_dict(values, name)

    @uninterrupted
    def log_figure(self, figure, name: str) -> None:
        import matplotlib.pyplot as plt
        import mlflow

        mlflow.log_figure(figure, f"figures/{name}.png")
        plt.close(figure)

    @uninterrupted
    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        import mlflow

        mlflow.log_artifact(str(path), folder)

    @uninterrupted
    def log_torch_model(self, model, input_example) -> None:
        import mlflow.pytorch
        import torch

        # MLflow warns about pickle on every call; the choice is deliberate (see below).
        logging.getLogger("mlflow.pytorch").setLevel(logging.ERROR)
        mlflow.pytorch.log_model(
            model.cpu().eval(),
            name="model",
            input_example=input_example,
            # Listing the requirement skips MLflow's slow import-tracing inference.
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
            # Pickle works for every model (torch.export, the default, fails on LSTMs with
            # packed sequences and on many Hugging Face models) and logs 3x faster.
            serialization_format="pickle",
        )

    @uninterrupted
    def log_sklearn_model(self, estimator, input_example) -> None:
        import mlflow.sklearn
        import sklearn

        logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)  # the pickle warning
        mlflow.sklearn.log_model(
            estimator,
            name="model",
            input_example=input_example,
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            # skops, MLflow's default, writes each array of a fitted vocabulary as its own
            # zip entry, in time quadratic in their number: minutes for a text model.
            serialization_format="cloudpickle",
        )


@contextmanager
def tracked_run(
    cfg: DictConfig, context: RunContext, resume_run_id: str | None = None
) -> Iterator[RunLogger]:
    """Open (or reopen) the MLflow run; end it FINISHED, FAILED or KILLED."""
    import mlflow

    # A sweep's jobs log to the store its parent run is in, wherever they run.
    prepare_store(context.sweep.tracking_uri if context.sweep else cfg.logger.tracking_uri)
    if resume_run_id is None:
        run = mlflow.start_run(
            experiment_id=_experiment_id(cfg, context),
            run_name=run_name(cfg, context),
            tags=_tags(cfg, context),
            parent_run_id=context.sweep.parent_run_id if context.sweep else None,
        )
        log_folder = "logs"
        status_before = None
    else:
        status_before = _status_of(resume_run_id)
        run = mlflow.start_run(run_id=resume_run_id)
        log_folder = f"logs/resumed_{context.output_dir.name}"  # keep the first part's log
    log.info("MLflow run %s in %s", run.info.run_id, without_credentials(cfg.logger.tracking_uri))
    run_logger = RunLogger(run.info.run_id)
    # From here on the run exists: whatever happens, it must end with a status.
    try:
        with stop_signals_end_the_run():
            with store_write():
                if resume_run_id is None:
                    mlflow.log_params(flat_params(cfg))
                    _log_config_files(cfg, context)
                else:
                    mlflow.set_tag("resumed_in", str(context.output_dir))
            yield run_logger
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


def _status_of(run_id: str) -> str:
    """The status of the run a checkpoint belongs to, which must be in this store."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.get_run(run_id).info.status
    except MlflowException as error:
        raise CheckpointError(
            f"the checkpoint belongs to MLflow run {run_id}, which is not in "
            f"{without_credentials(mlflow.get_tracking_uri())}. Resume against the store the "
            "run logged to: set MLFLOW_TRACKING_URI or paths.outputs_dir as it ran."
        ) from error


def _experiment_id(cfg: DictConfig, context: RunContext) -> str:
    if context.sweep is not None:
        return context.sweep.experiment_id  # all jobs of a sweep beside their parent
    artifact_root = artifact_root_for(cfg.logger.tracking_uri, cfg.paths.outputs_dir)
    return experiment_id_for(cfg.logger.experiment_name, artifact_root)


def _tags(cfg: DictConfig, context: RunContext) -> dict[str, str]:
    return {
        "git_commit": git_commit(),
        "dataset": str(context.choices.get("dataset")),
        "model": str(context.choices.get("model")),
        "optimizer": str(context.choices.get("optimizer")),
        "scheduler": str(context.choices.get("scheduler")),
        "experiment": str(context.choices.get("experiment")),
        "overrides": " ".join(context.overrides),
        "output_dir": str(context.output_dir),
        CHECKPOINT_DIR_TAG: str(cfg.trainer.checkpoint.dir),
    }


def _log_config_files(cfg: DictConfig, context: RunContext) -> None:
    import mlflow

    resolved = OmegaConf.to_yaml(OmegaConf.create(loggable_config(cfg)))
    mlflow.log_text(resolved, "config/config_resolved.yaml")
    hydra_dir = context.output_dir / ".hydra"
    if hydra_dir.is_dir():
        mlflow.log_artifacts(str(hydra_dir), "config/hydra")


def _end_run(
    context: RunContext,
    log_folder: str,
    status: str,
    reason: str = "",
    trace: str = "",
    reason_tag: str = "end_reason",
) -> None:
    """Save the log (and the failure), then set the final status. Never masks the real error."""
    import mlflow

    try:
        if reason:
            mlflow.set_tag(reason_tag, reason[:5000])
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


def _safe_folder_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
