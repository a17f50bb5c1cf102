"""Where things go: the default store follows the environment and never depends on the
working directory; artifact roots; the writable-folder check."""

from __future__ import annotations

from pathlib import Path

from ml_experiments import paths


def test_the_default_store_is_an_absolute_sqlite_file_unless_the_environment_names_one(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.default_tracking_uri("relative") == f"sqlite:///{tmp_path}/relative/mlflow.db"
    assert paths.default_tracking_uri() == f"sqlite:///{paths.PROJECT_ROOT}/outputs/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert paths.default_tracking_uri("relative") == "http://127.0.0.1:5000"


def test_artifacts_go_beside_the_database_or_under_outputs_never_to_the_working_directory():
    # A relative SQLite path is resolved against the working directory, as MLflow does.
    assert paths.artifact_root_for("sqlite:///rel/m.db", "/out").startswith("file:///")
    assert paths.artifact_root_for("sqlite:////db/m.db", "/out") == "file:///db/mlartifacts"
    assert paths.artifact_root_for("postgresql://db/mlflow", "/out") == "file:///out/mlartifacts"
    assert paths.artifact_root_for("http://127.0.0.1:5000", "/out") is None
    assert paths.sqlite_path("postgresql://db/mlflow") is None


def test_an_unwritable_folder_says_why(tmp_path):
    assert paths.unwritable_reason(tmp_path / "new" / "folder") is None
    assert (tmp_path / "new" / "folder").is_dir()
    (tmp_path / "a_file").write_text("")
    assert paths.unwritable_reason(tmp_path / "a_file" / "below") is not None
    assert paths.unwritable_reason(Path("/proc/no_such_folder")) is not None


def test_a_name_from_a_config_becomes_one_safe_folder():
    assert paths.safe_folder_name("boston_linear") == "boston_linear"
    assert paths.safe_folder_name("../../etc/passwd") == "_.._etc_passwd"
    assert "/" not in paths.safe_folder_name("a/b") and paths.safe_folder_name("..") == "_"
