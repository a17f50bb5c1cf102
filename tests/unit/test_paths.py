"""Where things go: the default store follows the environment and never depends on the
working directory; a plain path as the store is refused; artifact roots; the
writable-folder check."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_experiments import paths
from ml_experiments.errors import ConfigError


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


def test_an_empty_tracking_uri_variable_counts_as_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    assert paths.default_tracking_uri(tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"


@pytest.mark.parametrize(
    "uri",
    ["sqlite:////tmp/mlflow.db", "sqlite:///relative.db", "postgresql://db/mlflow",
     "http://127.0.0.1:5000", "https://mlflow.example.com", "databricks", "databricks-uc"],
)  # fmt: skip
def test_store_uris_mlflow_reads_are_accepted(uri):
    paths.check_tracking_uri(uri)


def test_a_plain_path_as_the_store_is_refused_with_the_uri_to_write_instead(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "x/mlflow.db")
    with pytest.raises(ConfigError) as refused:
        paths.check_tracking_uri("x/mlflow.db")
    assert str(refused.value).startswith(
        f"MLFLOW_TRACKING_URI=x/mlflow.db is a plain path, which MLflow 3 refuses as its "
        f"retired file store; use sqlite:///{tmp_path}/x/mlflow.db (a SQLite file) or "
        "http://host:port (a server)."
    )
    # Not from the environment (logger.tracking_uri=...): named as a URI; a folder gets a file.
    with pytest.raises(ConfigError, match="URI file:///s is .* use sqlite:////s/mlflow.db "):
        paths.check_tracking_uri("file:///s")


def test_a_folder_of_the_old_file_store_gets_the_command_that_migrates_it(tmp_path):
    (tmp_path / "mlruns" / "0").mkdir(parents=True)
    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    with pytest.raises(ConfigError) as refused:
        paths.check_tracking_uri(str(tmp_path / "mlruns"))
    assert str(refused.value).endswith(
        f"`mlflow migrate-filestore --source {tmp_path}/mlruns "
        f"--target sqlite:///{tmp_path}/mlruns/mlflow.db`."
    )
