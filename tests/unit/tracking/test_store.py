"""The store's helpers that need no MLflow run: credentials never logged and checkpoint
references that are already files."""

from __future__ import annotations

from ml_experiments.tracking import store


def test_store_credentials_are_not_logged():
    assert store.without_credentials("postgresql://me:secret@db:5432/mlflow") == (
        "postgresql://***@db:5432/mlflow"
    )
    assert store.without_credentials("sqlite:////tmp/m.db") == "sqlite:////tmp/m.db"


def test_a_checkpoint_reference_that_is_no_run_id_stays_a_path(tmp_path):
    """Only a 32-hex run id is looked up in a store; paths and weight names pass through."""
    saved = tmp_path / "last.pt"
    saved.write_bytes(b"")
    assert store.checkpoint_file(str(saved), "last.pt", "trainer.resume", None) == saved
    missing = tmp_path / "missing.pt"
    assert store.checkpoint_file(str(missing), "last.pt", "trainer.resume", None) == missing
    assert store.pretrained_source("IMAGENET1K_V1", None) == "IMAGENET1K_V1"
    assert store.pretrained_source(None, None) is None
    assert store.is_run_id("0123456789abcdef0123456789abcdef")
    assert not store.is_run_id("0123456789abcdef")


def test_an_sqlite_store_logs_ahead_and_other_databases_are_left_alone(request, tmp_path):
    """The store's connections use a write-ahead log (cheap commits, and a reader never
    blocks a writer); another SQLite database of the same process keeps its journal."""
    import sqlite3

    import mlflow
    import sqlalchemy

    shared = request.getfixturevalue("store")  # the session's migrated store
    store.prepare_store(shared.uri)
    mlflow.MlflowClient(shared.uri).search_experiments()  # a connection of MLflow's
    database = str(shared.folder / "mlflow.db")
    assert sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone() == ("wal",)

    other = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/other.db")
    with other.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "delete"
