"""The PyTorch text path: a vocabulary fitted on train only, the recurrent classifier on
packed sequences, class weights, and LSTM runs through the entry point that predict
and evaluate read back from raw text."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from ml_experiments.data import DataBundle, DatasetMeta
from ml_experiments.data.base import CLASSIFICATION
from ml_experiments.data.text import TextSplit
from ml_experiments.data.vocabulary import PAD_ID, UNKNOWN_ID, Vocabulary, tokenize_bundle
from ml_experiments.models.rnn import RecurrentClassifier
from tests.conftest import run_module


def text_bundle(train: list[str], val: list[str], test: list[str]) -> DataBundle:
    def split(texts):
        return TextSplit(np.array(texts, dtype=object), torch.arange(len(texts)) % 2)

    meta = DatasetMeta("toy", CLASSIFICATION, (), class_names=["a", "b"])
    return DataBundle(split(train), split(val), split(test), meta)


def test_the_vocabulary_is_fitted_on_the_training_texts_only():
    data = text_bundle(
        train=["<b>Great</b> film, GREAT cast!", "a dull film http://spam.example", "great"],
        val=["a great unseen word"],
        test=["dull dull dull"],
    )
    vocabulary = Vocabulary(min_freq=2, max_length=4)
    encoded = tokenize_bundle(data, vocabulary)
    # Cleaned (markup, URL, case) and counted on train: great x3, film x2; the rest once.
    assert vocabulary.tokens == ["<pad>", "<unk>", "great", "film"]
    assert "unseen" not in vocabulary.ids
    great, film = vocabulary.ids["great"], vocabulary.ids["film"]
    assert encoded.train.x[0].tolist() == [great, film, great, UNKNOWN_ID]  # cut at 4 words
    assert encoded.val.x[0].tolist() == [UNKNOWN_ID, great, UNKNOWN_ID, UNKNOWN_ID]
    assert encoded.test.x[0].tolist() == [UNKNOWN_ID] * 3 + [PAD_ID]
    assert encoded.meta.input_shape == (4,)
    assert encoded.summary["vocabulary_size"] == 4
    assert encoded.test.texts[0] == "dull dull dull"  # raw texts stay for the reports


def test_vocabulary_options_and_its_saved_state():
    vocabulary = Vocabulary(stop_words="english", min_freq=1, max_size=2, max_length=8)
    vocabulary.fit(["the cat and the dog", "the cat sat", "dog"])
    assert vocabulary.tokens == ["<pad>", "<unk>", "cat", "dog"]  # stop words gone, 2 kept
    restored = Vocabulary.from_state(vocabulary.state_dict())
    texts = ["The dog sat on the cat!"]
    assert restored.encode(texts).tolist() == vocabulary.encode(texts).tolist()
    with pytest.raises(ValueError, match="stop_words must be null or english"):
        Vocabulary(stop_words="french")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_padding_never_changes_a_texts_output(cell, pooling):
    """A short text gives the same logits alone and beside a long one, on packed
    sequences and on the padded batch alike."""
    torch.manual_seed(0)
    vocabulary = Vocabulary(min_freq=1, max_length=12).fit(["a b c d e f g h i j k l"])
    meta = DatasetMeta("toy", CLASSIFICATION, (12,), class_names=["x", "y", "z"])
    model = RecurrentClassifier(meta, vocabulary, cell=cell, hidden_size=8, embedding_dim=6,
                                num_layers=2, pooling=pooling).eval()  # fmt: skip
    short = vocabulary.encode(["c a b"])
    both = vocabulary.encode(["c a b", "l k j i h g f e d c b a"])
    outputs = {}
    for packed in (True, False):
        model.packed = packed
        outputs[packed] = model(both)
        torch.testing.assert_close(model(short)[0], outputs[packed][0])
    assert outputs[True].shape == (2, 3)
    torch.testing.assert_close(outputs[True], outputs[False])


def test_a_reversed_text_changes_the_output():
    """The check above is not blind: word order matters to the model."""
    torch.manual_seed(0)
    vocabulary = Vocabulary(min_freq=1, max_length=6).fit(["a b c d"])
    meta = DatasetMeta("toy", CLASSIFICATION, (6,), class_names=["x", "y"])
    model = RecurrentClassifier(meta, vocabulary, hidden_size=8, embedding_dim=6).eval()
    forward, backward = model(vocabulary.encode(["a b c d", "d c b a"]))
    assert not torch.allclose(forward, backward)


def test_balanced_class_weights_follow_the_training_labels():
    from ml_experiments.engine.loop import _class_weights

    data = text_bundle(["x"] * 4, ["x"], ["x"])
    data.train.y = torch.tensor([0, 0, 0, 1])
    weights = _class_weights(data, "balanced")
    torch.testing.assert_close(weights, torch.tensor([4 / 6, 4 / 2]))
    assert _class_weights(data, None) is None


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


@pytest.mark.parametrize(
    "text",
    ["A slow start, but the last hour is wonderful.", "SHOCKING hoax EXPOSED!",
     "it's a \"great\" film \\ ${not_a_key} = yes, [1,2] \\'q\\", "ends with \\",
     "a \\${x}", "'quoted' from the start"],
)  # fmt: skip
def test_predict_takes_any_raw_text_on_the_command_line(text):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from ml_experiments.predict import quote_text_argument

    (argument,) = quote_text_argument([f"text={text}"])
    parsed = OverridesParser.create().parse_override(argument).value()
    assert OmegaConf.create({"text": parsed}).text == text
