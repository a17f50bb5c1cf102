"""Text pipelines through the entry point: TF-IDF and bag of words on the Kaggle format and
LIAR, a vocabulary from the training split only, and the text data errors."""

from __future__ import annotations

import contextlib
import csv

import numpy as np
import pytest

from ml_experiments.data.text import load_liar, load_text_csv
from tests.helpers.kaggle_format import kaggle_rows, write_kaggle_csv
from tests.helpers.running import run_module
from tests.helpers.tampering import tamper_logged_model


def load_logged_model(store, run_id: str):
    from ml_experiments.tracking.loading import from_run

    return from_run(run_id, store.uri).model


TFIDF = "experiment=fake_news_tfidf"


def test_fake_news_tfidf_trains_and_its_saved_model_reads_raw_text(
    train, store, shared_data, kaggle_file, tmp_path
):
    train(
        "experiment=fake_news_tfidf",
        f"dataset.path={kaggle_file}",
        "name=fake_news_fixture",
        "model.min_df=1",
    )
    run = store.only_run("fake_news_fixture")
    assert run.info.status == "FINISHED"
    assert run.data.params["data/duplicate_texts_dropped"] == "2"
    assert run.data.params["data/rows_without_text_dropped"] == "2"
    assert run.data.metrics["test/acc"] == 1.0  # the two classes use disjoint words
    assert run.data.metrics["test/roc_auc"] == 1.0
    reports = {item.path for item in store.client().list_artifacts(run.info.run_id, "reports")}
    assert reports == {
        "reports/classification_report.json",
        "reports/classification_report.txt",
        "reports/confidently_wrong.csv",
    }
    model = load_logged_model(store, run.info.run_id)
    predicted = model.predict(
        ["<p>SHOCKING secret EXPOSED: https://example.com</p>", "Senate committee budget vote"]
    )
    assert predicted.tolist() == ["unreliable", "reliable"]  # labels, not class indices
    # The vocabulary is the training split's: the cleaner lowercased it and dropped markup.
    vocabulary = model.named_steps["words"].vocabulary_
    assert "shocking" in vocabulary and "<p>" not in vocabulary
    printed = run_module(
        "predict", [f"run_id={run.info.run_id}", "text=Senate committee budget vote"],
        store, shared_data, tmp_path,
    ).output  # fmt: skip
    assert "Senate committee budget vote  reliable" in printed
    _check_predict_runs_no_code_from_the_model_files(run.info.run_id, store, shared_data, tmp_path)


def _check_predict_runs_no_code_from_the_model_files(run_id, store, shared_data, tmp_path):
    """Every pickle of the logged model replaced by one that runs code: predict answers the
    same from the run's arrays and JSON and runs none of it; MLflow's own loader would."""
    import mlflow.pyfunc

    marker = tmp_path / "code_ran"
    replaced = tamper_logged_model(store.client(), run_id, marker)
    assert [path.name for path in replaced] == ["python_model.pkl"]
    printed = run_module(
        "predict", [f"run_id={run_id}", "text=Senate committee budget vote"],
        store, shared_data, tmp_path,
    ).output  # fmt: skip
    assert "Senate committee budget vote  reliable" in printed
    assert not marker.exists()
    with contextlib.suppress(Exception):  # whatever it returns or raises, the code has run
        mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert marker.exists()


def test_the_vocabulary_comes_from_the_training_split_only(train, store, tmp_path):
    rows = kaggle_rows()[:120]
    for row in rows:
        row["text"] += f" token{row['id']}"  # one word unique to each article
    path = tmp_path / "unique.csv"
    write_kaggle_csv(path, rows)
    train(
        "experiment=fake_news_tfidf",
        f"dataset.path={path}",
        "name=vocabulary_check",
        "model.min_df=1",
        "logger.log_figures=false",
    )
    run = store.only_run("vocabulary_check")
    vocabulary = load_logged_model(store, run.info.run_id).named_steps["words"].vocabulary_
    data = load_text_csv(
        "x", str(path), ["title", "author", "text"], "label", ["0", "1"], None, ",", True,
        0.15, 0.15, seed=42,
    )  # fmt: skip

    def unique_words(split) -> set[str]:
        return {word for text in split.texts for word in text.split() if "token" in word}

    assert unique_words(data.train) <= set(vocabulary)
    assert not (unique_words(data.val) | unique_words(data.test)) & set(vocabulary)


def test_bag_of_words_on_liar_through_the_entry_point(train, store):
    train("experiment=liar_tfidf", "model=bow_logreg", "name=liar_bow", "logger.log_model=false")
    run = store.only_run("liar_bow")
    assert run.data.params["model.vectorizer"] == "count"
    assert run.data.params["data/train_rows_read"] == "10269"
    assert 0.2 < run.data.metrics["test/acc"] < 0.35  # six classes; the majority is 20.8%


def test_nbsvm_on_real_imdb_reviews_predicts_raw_text_from_its_run(
    train, store, shared_data, tmp_path
):
    train("experiment=imdb_nbsvm", "dataset.train_subset=1500", "dataset.test_subset=300")
    run = store.only_run("imdb_nbsvm")
    assert run.data.params["model.vectorizer"] == "naive_bayes"
    assert run.data.params["model.ngram_max"] == "3"
    assert run.data.metrics["test/acc"] > 0.75  # 1,350 training reviews; the classes are even
    printed = run_module(
        "predict",
        [f"run_id={run.info.run_id}", "text=<br />A dull, boring waste of time. Awful acting!"],
        store, shared_data, tmp_path,
    ).output  # fmt: skip
    assert "Awful acting!  neg" in printed


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([TFIDF, "dataset.label_column=verdict"], "has no column 'verdict'"),
        ([TFIDF, "dataset.labels=[0,2]"], "has labels ['1'] that dataset.labels ['0', '2']"),
        ([TFIDF, "dataset.label_column=author"], "no usable rows left"),
        (["dataset=fake_news", "model=mlp"], "model=mlp takes numbers, and dataset=fake_news is"),
    ],
)
def test_text_data_errors_name_the_problem(train, tmp_path, overrides, message):
    rows = [dict(row, author="") for row in kaggle_rows()]  # as labels: none usable
    path = tmp_path / "train.csv"
    write_kaggle_csv(path, rows)
    result = train(*overrides, f"dataset.path={path}", expect_success=False)
    assert result.returncode == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_liar_meta_reads_the_statement_and_its_metadata_apart_and_predicts_from_a_table(
    train, store, shared_data, tmp_path
):
    """On the real LIAR: the run, the model loaded without pickle, evaluate, the MLflow model
    and predict on a .tsv of fields all give the same answers."""
    import mlflow

    from ml_experiments.tracking.loading import from_run

    train("experiment=liar_meta")
    run = store.only_run("liar_meta")
    metrics = run.data.metrics
    # The statement alone scores about 26% (liar_tfidf); the majority class is 20.8%.
    assert metrics["test/acc"] > 0.265, metrics
    trained = from_run(run.info.run_id, store.uri)
    fields = list(trained.config.dataset.fields)
    test = load_liar("liar", str(shared_data / "liar"), fields, binary=False, seed=0).test
    assert sorted(test.fields.columns) == sorted(trained.model.field_names)  # picked by name
    predicted = trained.model.predict(test.fields)
    truth = np.asarray(trained.meta.class_names)[test.y.numpy()]
    assert (predicted == truth).mean() == pytest.approx(metrics["test/acc"])

    evaluated = run_module("evaluate", [f"run_id={run.info.run_id}"], store, shared_data, tmp_path)
    accuracy = float(evaluated.output.split("test/acc")[1].split()[0])
    assert accuracy == pytest.approx(metrics["test/acc"], abs=1e-4)

    mlflow.set_tracking_uri(store.uri)
    logged = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    example = logged.input_example
    assert list(example.columns) == trained.model.field_names
    answers = logged.predict(test.fields.head(20))
    assert answers["prediction"].tolist() == predicted[:20].tolist()
    with pytest.raises(Exception, match=r"missing inputs \['party'\]"):  # MLflow's schema
        logged.predict(test.fields.head(2).drop(columns="party"))

    rows = test.fields.head(3)
    table = tmp_path / "claims.tsv"
    rows.to_csv(table, sep="\t", index=False)
    outputs = tmp_path / "predict"
    run_module(
        "predict", [f"run_id={run.info.run_id}", f"inputs={table}"], store, shared_data, outputs
    )
    with next(outputs.rglob("predictions.csv")).open() as file:
        written = list(csv.DictReader(file))
    assert [row["input"] for row in written] == rows["statement"].tolist()
    assert [row["prediction"] for row in written] == predicted[:3].tolist()
    test.fields.head(2).drop(columns="party").to_csv(table, sep="\t", index=False)
    refused = run_module(
        "predict", [f"run_id={run.info.run_id}", f"inputs={table}"],
        store, shared_data, tmp_path, expect_success=False,
    ).output  # fmt: skip
    assert "the input has no column ['party']" in refused
    alone = run_module(
        "predict", [f"run_id={run.info.run_id}", "text=Says taxes went up 40 percent."],
        store, shared_data, tmp_path,
    ).output  # fmt: skip
    assert "only the text field statement is given" in alone
