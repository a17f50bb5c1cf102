"""LSTM runs through the entry point, read back by predict from raw text; their option errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.helpers.running import run_module
from tests.helpers.tampering import code_running_pickle, tamper_logged_model


def _artifact_file(store, run_id: str, path: str) -> Path:
    from urllib.parse import urlparse

    root = urlparse(store.client().get_run(run_id).info.artifact_uri).path
    return Path(root) / path


LSTM_QUICK = ["trainer.max_epochs=8", "trainer.batch_size=16", "model.tokenizer.min_freq=1"]


def test_lstm_trains_on_the_kaggle_format_and_reads_raw_text_back(
    train, store, shared_data, kaggle_file, tmp_path
):
    train(
        "experiment=fake_news_lstm",
        f"dataset.path={kaggle_file}",
        "name=fake_news_lstm_fixture",
        "trainer.class_weight=balanced",
        *LSTM_QUICK,
    )
    run = store.only_run("fake_news_lstm_fixture")
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["data/duplicate_texts_dropped"] == "2"
    assert int(params["data/vocabulary_size"]) > 20
    assert params["model.cell"] == "lstm" and params["trainer.class_weight"] == "balanced"
    assert run.data.metrics["test/acc"] >= 0.9  # the two classes use disjoint words
    reports = {item.path for item in store.client().list_artifacts(run.info.run_id, "reports")}
    assert "reports/confidently_wrong.csv" in reports

    texts = tmp_path / "texts.txt"
    texts.write_text("<p>SHOCKING secret EXPOSED: https://example.com</p>\nSenate budget vote\n")
    run_module("predict", [f"run_id={run.info.run_id}", f"inputs={texts}"], store,
               shared_data, tmp_path)  # fmt: skip
    rows = list(csv.DictReader(next(tmp_path.rglob("predictions.csv")).open()))
    assert [row["prediction"] for row in rows] == ["unreliable", "reliable"]

    # Every pickle of the logged model replaced by one that runs code: predict rebuilds the
    # model from its config and loads the weights alone, and runs none of it.
    marker = tmp_path / "code_ran"
    replaced = tamper_logged_model(store.client(), run.info.run_id, marker)
    assert [path.name for path in replaced] == ["python_model.pkl"]
    answer = run_module("predict", [f"run_id={run.info.run_id}", "text=Senate budget vote"],
                        store, shared_data, tmp_path).output  # fmt: skip
    assert "Senate budget vote  reliable" in answer and not marker.exists()
    # And the weights file itself: weights_only refuses it, with the way out.
    weights = _artifact_file(store, run.info.run_id, "model_state/weights.pt")
    weights.write_bytes(code_running_pickle(marker))
    refused = run_module("predict", [f"run_id={run.info.run_id}", "text=Senate budget vote"],
                         store, shared_data, tmp_path, expect_success=False)  # fmt: skip
    assert refused.returncode == 1 and not marker.exists()
    assert f"cannot read the weights of run {run.info.run_id} (weights.pt)" in refused.output

    best = f"{run.data.tags['checkpoint_dir']}/best.pt"
    evaluated = run_module("evaluate", [f"checkpoint={best}"], store, shared_data, tmp_path)
    accuracy = float(evaluated.output.split("test/acc")[1].split()[0])
    assert accuracy == pytest.approx(run.data.metrics["test/acc"], abs=1e-4)


def test_liar_lstm_runs_on_the_real_files(train, store, shared_data, tmp_path):
    train("experiment=liar_lstm", "name=liar_lstm_steps", "trainer.max_epochs=1",
          "trainer.limit_train_batches=5", "logger.log_model=false")  # fmt: skip
    run = store.only_run("liar_lstm_steps")
    assert run.info.status == "FINISHED"
    assert run.data.params["data/train_rows_read"] == "10269"
    assert 1000 < int(run.data.params["data/vocabulary_size"]) < 30002
    assert run.data.params["data/input_shape"] == "[64]"
    result = run_module("predict", [f"run_id={run.info.run_id}", "text=Taxes went up."],
                        store, shared_data, tmp_path, expect_success=False)  # fmt: skip
    assert "has no logged model" in result.output


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=lstm"], "model=lstm reads text, and dataset=digits is not text"),
        (
            ["model=lstm", "dataset=liar", "model.tokenizer.min_freq=100000"],
            "the vocabulary is empty",
        ),
        (["dataset=boston", "trainer.class_weight=balanced"], "needs a classification task"),
        (["model=lstm", "model.cell=transformer"], "model.cell"),
    ],
)
def test_lstm_option_errors_name_the_problem(train, overrides, message):
    result = train(*overrides, "trainer.max_epochs=1", expect_success=False)
    assert result.returncode == 1
    assert message in result.output
    assert "Traceback" not in result.output
