"""Commands given something they cannot use end with one line naming the problem and the
fix, exit code 1 and no traceback. Each case fails before any data or model is loaded, so
each costs one short process; the reading functions behind them are tested in tests/unit."""

from __future__ import annotations

from tests.helpers.running import run_module


def test_a_plain_path_as_the_store_is_refused_with_the_uri_to_use(store, shared_data, tmp_path):
    database = tmp_path / "x" / "mlflow.db"
    result = run_module(
        "train", ["debug=fast", "name=plain_path_store"], store, shared_data, tmp_path,
        expect_success=False, extra_environment={"MLFLOW_TRACKING_URI": str(database)},
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        f"MLFLOW_TRACKING_URI={database} is a plain path, which MLflow 3 refuses as its retired "
        f"file store; use sqlite:///{database} (a SQLite file) or http://host:port (a server)."
    ) in result.output
    assert "Traceback" not in result.output
    assert not database.parent.exists()  # nothing was written where the store would have been


def test_predict_refuses_an_empty_text(store, shared_data, tmp_path):
    result = run_module(
        "predict", ["checkpoint=/no/best.pt", "text="], store, shared_data, tmp_path,
        expect_success=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "text='' holds no words: give the text to classify" in result.output
    assert "Traceback" not in result.output
