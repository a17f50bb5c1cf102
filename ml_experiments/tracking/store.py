"""The MLflow store: opening it, experiments, looking runs up, and finding a run's
checkpoints. Everything that turns a run id into something on disk happens here."""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import subprocess
from pathlib import Path

from ml_experiments import paths
from ml_experiments.errors import CheckpointError, ConfigError, UserError
from ml_experiments.paths import without_credentials

log = logging.getLogger(__name__)

RUN_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
CHECKPOINT_DIR_TAG = "checkpoint_dir"  # where a run writes its checkpoints, tagged at its start
PRUNED_TAG = "pruned"  # on a run an Optuna pruner stopped (it ends KILLED)
HOST_TAG, PID_TAG = "host", "pid"  # the process running the run, to find it abandoned later
# The kind tag opens the MLflow UI on its training-runs view rather than the GenAI one.
EXPERIMENT_KIND_TAGS = {"mlflow.experimentKind": "custom_model_development"}
# What this process did once and need not do per job of a sweep.
_PREPARED_DATABASES: set[Path] = set()  # SQLite stores whose tables were checked
_TUNED_DATABASES: set[str] = set()  # their files, resolved, for the connection hook
_TUNED_KEY, _SQLITE_FILE_KEY = "ml_experiments_tuned", "ml_experiments_sqlite_file"
_CHECKED_EXPERIMENTS: set[tuple[str, str]] = set()  # (store, experiment): abandoned runs


def prepare_store(tracking_uri: str) -> None:
    """Point MLflow at the store, creating the SQLite file's folder and tables if needed.

    Each job of a sweep calls this; the tables are checked once per process and store
    (while the file is there), not once per job.
    """
    import mlflow

    paths.check_tracking_uri(tracking_uri)
    database = paths.sqlite_path(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    if database is None or (database in _PREPARED_DATABASES and database.exists()):
        return
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(
            f"cannot create the MLflow store folder {database.parent}: {error}. Set "
            "paths.outputs_dir to a writable folder, or MLFLOW_TRACKING_URI to another store."
        ) from error
    _tune_sqlite_connections(database)
    _create_sqlite_tables_locked(tracking_uri, database)
    _PREPARED_DATABASES.add(database)


def _tune_sqlite_connections(database: Path) -> None:
    """Write-ahead logging for every connection MLflow uses to this SQLite store.

    SQLite's default journal syncs the disk several times per commit, and MLflow commits
    once per call: a run's epoch metrics, params and tags cost about 10 ms each, and two
    processes logging at once block each other. With a write-ahead log a commit appends
    to one file, readers no longer block the writer, and `synchronous=NORMAL` (SQLite's
    advice for this mode) syncs only at checkpoints: a power cut can lose the last
    commits, never corrupt the store.
    """
    import sqlalchemy

    if not _TUNED_DATABASES:
        # On checkout rather than connect: MLflow may have opened the store before (a
        # sweep's job first looks for its finished run), and its pool keeps connections.
        sqlalchemy.event.listen(sqlalchemy.pool.Pool, "checkout", _tune_sqlite_connection)
    _TUNED_DATABASES.add(str(database))


def _tune_sqlite_connection(connection, record, _proxy) -> None:
    """Each time any SQLAlchemy pool hands out a connection: tune those to the stores
    above, once each (the pool keeps what it learned about a connection in `info`)."""
    import sqlite3

    if not isinstance(connection, sqlite3.Connection) or record.info.get(_TUNED_KEY):
        return
    if _SQLITE_FILE_KEY not in record.info:
        record.info[_SQLITE_FILE_KEY] = _main_database_file(connection)
    if record.info[_SQLITE_FILE_KEY] not in _TUNED_DATABASES:
        return
    record.info[_TUNED_KEY] = True
    try:
        paths.use_write_ahead_log(connection)
    except sqlite3.OperationalError as error:
        # Another process holds the file (the MLflow UI reading): a later run switches it.
        log.debug("SQLite store kept its journal mode: %s", error)


def _main_database_file(connection) -> str:
    """The resolved file of a SQLite connection's main database ("" in memory)."""
    # Rows of database_list: sequence number, name, file.
    files = [row[2] for row in connection.execute("PRAGMA database_list") if row[1] == "main"]
    return str(Path(files[0]).resolve()) if files and files[0] else ""


def _create_sqlite_tables_locked(tracking_uri: str, database: Path) -> None:
    """Create (or migrate) the SQLite store's tables under a file lock: two runs started
    at once on a new store would otherwise both create them, and one would crash."""
    import fcntl

    import mlflow

    with database.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            mlflow.MlflowClient(tracking_uri).search_experiments(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def experiment_id_for(name: str, artifact_root: str | None) -> str:
    """The id of the experiment `name`, created (with its artifact folder) when new."""
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
    location = None if artifact_root is None else f"{artifact_root}/{paths.safe_folder_name(name)}"
    try:
        return mlflow.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND_TAGS)
    except MlflowException:
        # Another process created it between our lookup and our create.
        return mlflow.get_experiment_by_name(name).experiment_id


@functools.cache
def git_commit() -> str:
    """The project's commit, `-dirty` when tracked files changed; `unknown` outside git.
    Looked up once per process: a sweep's jobs run the code the process imported."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def _git(*arguments: str) -> str:
    completed = subprocess.run(
        ["git", *arguments], cwd=paths.PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


# --- runs -------------------------------------------------------------------------


def get_run(run_id: str, fix: str):
    """The run with this id in the current store; CheckpointError with `fix` if there is none."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.get_run(run_id)
    except MlflowException as error:
        store = without_credentials(mlflow.get_tracking_uri())
        raise CheckpointError(f"no MLflow run with id {run_id} in {store}. {fix}") from error


def status_of(run_id: str) -> str:
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


def process_tags() -> dict[str, str]:
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def mark_abandoned_runs_killed(experiment_id: str, current_run_id: str) -> None:
    """Mark KILLED the runs of this experiment left RUNNING by a process of this host that
    is gone (SIGKILL, a crash of the machine): nothing else would ever end them. Once per
    process and experiment: the jobs of a sweep that follow find nothing new (a process
    cannot see itself die, and a worker that replaces a dead one checks again)."""
    import mlflow

    checked = (mlflow.get_tracking_uri(), experiment_id)
    if checked in _CHECKED_EXPERIMENTS:
        return
    _CHECKED_EXPERIMENTS.add(checked)
    client = mlflow.MlflowClient()
    for run in _abandoned_runs(client, experiment_id, current_run_id):
        pid = run.data.tags[PID_TAG]
        client.set_tag(
            run.info.run_id,
            "end_reason",
            f"its process {pid} on {run.data.tags[HOST_TAG]} ended without closing the run; "
            f"marked KILLED when run {current_run_id} started",
        )
        client.set_terminated(run.info.run_id, "KILLED")
        log.warning(
            "run %s was left RUNNING by process %s, which is gone: marked KILLED. Continue it "
            "with trainer.resume=%s",
            run.info.run_id,
            pid,
            run.info.run_id,
        )


def _abandoned_runs(client, experiment_id: str, current_run_id: str) -> list:
    host = socket.gethostname()
    running = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.{HOST_TAG} = '{host}'",
    )
    return [
        run
        for run in running
        if run.info.run_id != current_run_id and not _is_alive(run.data.tags.get(PID_TAG))
    ]


def _is_alive(pid: str | None) -> bool:
    """Whether a local process with this id exists; a run without one is left alone."""
    if pid is None or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def child_runs(parent_run_id: str, experiment_id: str):
    """The runs nested under a sweep's parent run, as a `search_runs` DataFrame."""
    import mlflow

    return mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
    )


def parent_run(client, run_id: str, tracking_uri: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as error:
        raise ConfigError(
            f"no MLflow run with id {run_id} in {without_credentials(tracking_uri)}. "
            "Copy a sweep's parent run id from the MLflow UI or the sweep's log."
        ) from error


def experiment_named(client, name: str | None, tracking_uri: str):
    names = sorted(experiment.name for experiment in client.search_experiments())
    if not name:
        raise ConfigError(
            f"name what to compare: experiment=<name> or parent=<sweep run id>. "
            f"Experiments in the store: {', '.join(names) or 'none'}."
        )
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        raise ConfigError(
            f"no MLflow experiment named {name!r} in {without_credentials(tracking_uri)}. "
            f"Experiments in the store: {', '.join(names) or 'none'}."
        )
    return experiment


# --- checkpoints ------------------------------------------------------------------


def is_run_id(reference: str) -> bool:
    return RUN_ID_PATTERN.fullmatch(reference) is not None


def checkpoint_file(reference: str, file_name: str, option: str, tracking_uri: str | None) -> Path:
    """The checkpoint a config option names: a file path, or the run id of the run whose
    `file_name` (last.pt, best.pt) to take. `option` names the key in messages. A run id
    is looked up in `tracking_uri`, or in the store already open when that is None."""
    path = Path(reference).expanduser()
    if path.exists() or not is_run_id(reference):
        return path
    if tracking_uri is not None:
        prepare_store(tracking_uri)
    fix = f"Check the id in the MLflow UI, or pass {option}=<path to {file_name}>."
    folder = get_run(reference, fix).data.tags.get(CHECKPOINT_DIR_TAG)
    if folder is None:
        raise CheckpointError(f"run {reference} recorded no checkpoint folder; {fix}")
    return Path(folder) / file_name


def check_resumes_the_named_run(reference: str, checkpoint_run_id: str) -> None:
    """trainer.resume=<run id> continues that run or nothing: a folder that runs shared
    before checkpoints were kept per run may hold another run's last.pt."""
    if is_run_id(reference) and reference != checkpoint_run_id:
        raise CheckpointError(
            f"trainer.resume={reference} found a checkpoint of another run, {checkpoint_run_id} "
            "(the two shared trainer.checkpoint.dir); resuming it would change that run. "
            f"Continue {checkpoint_run_id} with trainer.resume={checkpoint_run_id}, or pass "
            f"trainer.resume=<path to the last.pt of {reference}>."
        )


def pretrained_source(reference: str | None, tracking_uri: str | None) -> str | None:
    """`model.weights` made concrete for a model: a run id becomes that run's best.pt;
    anything else (a file, torchvision weights by name) is passed on as it is."""
    if reference is None or not is_run_id(reference) or Path(reference).exists():
        return reference
    return str(checkpoint_file(reference, "best.pt", "model.weights", tracking_uri))
