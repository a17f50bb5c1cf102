"""Text loaders: LIAR and IMDB from the real files, an unpacked IMDB folder, and the Kaggle
fake-news format with its mess."""

from __future__ import annotations

import io
import tarfile

import pytest

from ml_experiments.data.text import LIAR_LABELS, load_imdb, load_liar, load_text_csv
from ml_experiments.errors import DataError


def test_liar_reads_the_official_splits_with_six_ordered_labels(shared_data):
    data = load_liar("liar", str(shared_data / "liar"), ["statement"], binary=False, seed=0)
    # The released files' counts (as on the Hugging Face hub); the paper's table says
    # 10,240 / 1,284 / 1,267.
    assert (len(data.train), len(data.val), len(data.test)) == (10_269, 1_284, 1_283)
    assert data.meta.class_names == LIAR_LABELS
    assert set(data.train.y.tolist()) == set(range(6))
    assert all(text.strip() for text in data.test.texts)


def test_liar_keeps_each_field_apart_beside_the_joined_text(shared_data, caplog):
    fields = ["statement", "state", "context"]
    data = load_liar("liar", str(shared_data / "liar"), fields, binary=False, seed=0)
    first = data.train.fields.iloc[0]
    assert list(data.train.fields.columns) == fields
    assert data.train.texts[0] == "\n".join(value for value in first if value.strip())
    assert len(data.test.fields) == len(data.test) and "" in set(data.train.fields["state"])
    with pytest.raises(DataError, match="'label', the answer itself"):
        load_liar("liar", str(shared_data / "liar"), ["statement", "label"], False, seed=0)
    load_liar("liar", str(shared_data / "liar"), ["statement", "false_count"], False, seed=0)
    assert "leak its label" in caplog.text


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
