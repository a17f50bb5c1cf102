"""Where things go: the project root, the outputs folder, the MLflow store and its artifacts.

The one home of these rules. The YAML configs read them through resolvers
(`${project_root:}`, `${default_outputs_dir:}`, `${default_tracking_uri:<outputs dir>}`), and
the commands that take no Hydra config (`compare`, `ui`) call them directly.
Imports neither torch nor mlflow: every command's start-up path goes through here.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ml_experiments.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUTS_DIR = PROJECT_ROOT / "outputs"
TRACKING_URI_VARIABLE = "MLFLOW_TRACKING_URI"
SQLITE_PREFIX = "sqlite:///"


def default_tracking_uri(outputs_dir: str | Path = DEFAULT_OUTPUTS_DIR) -> str:
    """The store runs log to: MLFLOW_TRACKING_URI, else `<outputs_dir>/mlflow.db` (absolute,
    so the store is the same whatever the working directory)."""
    local = f"{SQLITE_PREFIX}{Path(outputs_dir).resolve()}/mlflow.db"
    return os.environ.get(TRACKING_URI_VARIABLE) or local  # set but empty counts as unset


def check_tracking_uri(tracking_uri: str) -> None:
    """Refuse a plain path (or file: URI) as the store: MLflow 3 reads one as its old file
    store and refuses it with a traceback; say which URI to write instead."""
    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("", "file") or is_tracking_server(tracking_uri):
        return
    path = Path(parts.path if parts.scheme == "file" else tracking_uri).expanduser().resolve()
    sqlite_uri = f"{SQLITE_PREFIX}{_database_file(path)}"
    raise ConfigError(
        f"{_named(tracking_uri)} is a plain path, which MLflow 3 refuses as its retired file "
        f"store; use {sqlite_uri} (a SQLite file) or http://host:port (a server)."
        + _migration_hint(path, sqlite_uri)
    )


def _database_file(path: Path) -> Path:
    """A file, or a name with a suffix (mlflow.db), is the database; anything else a folder."""
    return path if path.is_file() or path.suffix else path / "mlflow.db"


def _migration_hint(path: Path, sqlite_uri: str) -> str:
    if not any(path.glob("*/meta.yaml")):  # each experiment folder of a file store has one
        return ""
    return (
        f" {path} holds MLflow's old file store: copy its runs into the SQLite file first "
        f"with `mlflow migrate-filestore --source {path} --target {sqlite_uri}`."
    )


def _named(tracking_uri: str) -> str:
    """The URI as the user set it: most often through the environment."""
    if os.environ.get(TRACKING_URI_VARIABLE) == tracking_uri:
        return f"{TRACKING_URI_VARIABLE}={tracking_uri}"
    return f"the MLflow tracking URI {tracking_uri}"


def is_tracking_server(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("http://", "https://", "databricks"))


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a SQLite store URI, or None for any other store.

    `sqlite:///relative.db` is relative to the working directory, as MLflow reads it.
    """
    if not tracking_uri.startswith(SQLITE_PREFIX):
        return None
    return Path(tracking_uri.removeprefix(SQLITE_PREFIX)).resolve()


def artifact_root_for(tracking_uri: str, outputs_dir: str | Path) -> str | None:
    """Where a new experiment keeps its artifacts: never the cwd-relative ./mlruns.

    A local SQLite store keeps them beside the database file; another database
    (PostgreSQL, MySQL) under the outputs folder; a tracking server decides itself.
    """
    if is_tracking_server(tracking_uri):
        return None
    database = sqlite_path(tracking_uri)
    if database is not None:
        return (database.parent / "mlartifacts").as_uri()
    return (Path(outputs_dir).resolve() / "mlartifacts").as_uri()


def without_credentials(uri: str) -> str:
    """The URI with any user:password@ removed, fit to be logged."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def use_write_ahead_log(connection) -> None:
    """Put a SQLite connection (Python's DBAPI one) in write-ahead-log mode, synced at
    checkpoints: a commit appends to one file, readers no longer block the writer, and a
    power cut can lose the last commits, never corrupt the database. The journal mode is
    persistent, and switching it needs the file to itself: sqlite3.OperationalError when
    another process holds it."""
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA journal_mode=WAL")


def safe_folder_name(name: str) -> str:
    """A name from a config (a run's, an experiment's) made one safe folder: no separators,
    no `..`, so `name=../../x` cannot write outside the outputs folder."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip(".") or "_"


def unwritable_reason(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (created if missing), or None when they can.
    Asked before a run needs the folder, so it fails at once rather than after an epoch."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None
