"""Text data and text models: LIAR and IMDB read from the real files, the Kaggle fake-news
format with its mess, TF-IDF and bag-of-words pipelines through the entry point."""

from __future__ import annotations

import io
import tarfile

import pytest

from ml_experiments.data.text import LIAR_LABELS, load_imdb, load_liar, load_text_csv
from tests.conftest import run_module
from tests.kaggle_format import kaggle_rows, write_kaggle_csv


def test_liar_reads_the_official_splits_with_six_ordered_labels(shared_data):
    data = load_liar("liar", str(shared_data / "liar"), ["statement"], binary=False, seed=0)
    # The released files' counts (as on the Hugging Face hub); the paper's table says
    # 10,240 / 1,284 / 1,267.
    assert (len(data.train), len(data.val), len(data.test)) == (10_269, 1_284, 1_283)
    assert data.meta.class_names == LIAR_LABELS
    assert set(data.train.y.tolist()) == set(range(6))
    assert all(text.strip() for text in data.test.texts)


def test_liar_binary_collapses_the_lower_and_upper_three(shared_data):
    six = load_liar("liar", str(shared_data / "liar"), ["statement"], binary=False, seed=0)
    two = load_liar("liar", str(shared_data / "liar"), ["statement"], binary=True, seed=0)
    assert two.meta.class_names == ["false", "true"]
    assert two.train.y.tolist() == (six.train.y >= 3).long().tolist()


def test_imdb_reads_the_tarball_and_samples_seeded_subsets(shared_data):
    path = str(shared_data / "imdb" / "aclImdb_v1_labeled.tar.gz")
    data = load_imdb("imdb", path, 0.1, train_subset=400, test_subset=100, seed=3)
    assert (len(data.train), len(data.val), len(data.test)) == (360, 40, 100)
    assert data.summary == {"train_reviews_read": 25_000, "test_reviews_read": 25_000}
    assert data.meta.class_names == ["neg", "pos"]
    assert set(data.val.y.tolist()) == {0, 1}
    again = load_imdb("imdb", path, 0.1, train_subset=400, test_subset=100, seed=3)
    assert again.train.texts.tolist() == data.train.texts.tolist()
    other = load_imdb("imdb", path, 0.1, train_subset=400, test_subset=100, seed=4)
    assert other.train.texts.tolist() != data.train.texts.tolist()
    assert other.test.texts.tolist() == data.test.texts.tolist()  # one test subset for all seeds


def test_imdb_reads_the_unpacked_folder_like_the_archive(tmp_path):
    archive = tmp_path / "small.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "test"):
            for label in ("neg", "pos"):
                for number in range(5):
                    text = f"{label} review {number} of {split}".encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{number}_7.txt")
                    info.size = len(text)
                    tar.addfile(info, io.BytesIO(text))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    from_archive = load_imdb("imdb", str(archive), 0.2, None, None, seed=0)
    from_folder = load_imdb("imdb", str(tmp_path / "unpacked" / "aclImdb"), 0.2, None, None, seed=0)
    assert from_folder.test.texts.tolist() == from_archive.test.texts.tolist()
    assert len(from_archive.test) == 10 and len(from_archive.train) == 8


def test_kaggle_mess_is_dropped_and_counted(kaggle_file):
    data = load_text_csv(
        "fake_news",
        str(kaggle_file),
        ["title", "author", "text"],
        "label",
        ["0", "1"],
        ["reliable", "unreliable"],
        ",",
        drop_duplicates=True,
        val_fraction=0.15,
        test_fraction=0.15,
        seed=0,
    )
    assert data.summary == {
        "rows_read": 125,
        "rows_without_label_dropped": 1,
        "rows_without_text_dropped": 2,
        "duplicate_texts_dropped": 2,
        "rows_used": 120,
    }
    texts = [*data.train.texts, *data.val.texts, *data.test.texts]
    assert any("Ünïcödé" in text for text in texts)
    assert not any("Kept out" in text for text in texts)
    assert data.meta.class_names == ["reliable", "unreliable"]


def load_logged_model(store, run_id: str):
    from ml_experiments.loading import from_run

    return from_run(run_id, store.uri).model


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
    assert predicted.tolist() == [1, 0]  # unreliable, reliable
    # The vocabulary is the training split's: the cleaner lowercased it and dropped markup.
    vocabulary = model.named_steps["words"].vocabulary_
    assert "shocking" in vocabulary and "<p>" not in vocabulary
    printed = run_module(
        "predict", [f"run_id={run.info.run_id}", "text=Senate committee budget vote"],
        store, shared_data, tmp_path,
    ).output  # fmt: skip
    assert "Senate committee budget vote  reliable" in printed


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
    import mlflow.sklearn

    run = store.only_run("vocabulary_check")
    vocabulary = (
        mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model").named_steps["words"].vocabulary_
    )
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


TFIDF = "experiment=fake_news_tfidf"


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


def test_the_most_confident_mistakes_come_first():
    import numpy as np
    import torch

    from ml_experiments.reports import confidently_wrong_texts, roc_auc

    probabilities = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    targets = np.array([1, 1, 1, 0])
    texts = np.array(["a", "b", "c", "d"], dtype=object)
    table = confidently_wrong_texts(texts, probabilities.log(), targets, ["neg", "pos"])
    assert table["text"].tolist() == ["a", "d", "c"]  # "b" is right
    assert table["confidence"].tolist() == [0.9, 0.7, 0.6]
    assert table["predicted"].tolist() == ["neg", "pos", "neg"]
    assert roc_auc(probabilities.log(), targets) == pytest.approx(1 / 3)
