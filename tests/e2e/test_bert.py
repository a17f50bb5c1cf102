"""A pretrained Hugging Face encoder through the entry point: a tiny random BERT written by
the test for training, saving and predicting raw text; the real MiniLM for a few steps; the
no-network error."""

from __future__ import annotations

import csv

from tests.helpers.running import run_module


def test_bert_fine_tunes_and_predicts_raw_text_from_its_run(
    train, store, shared_data, tiny_bert, kaggle_file, tmp_path
):
    train(
        "dataset=fake_news",
        f"dataset.path={kaggle_file}",
        "model=bert",
        f"model.pretrained={tiny_bert}",
        "model.tokenizer.max_length=32",
        "optimizer=adamw",
        "optimizer.lr=0.003",
        "scheduler=linear",
        "scheduler.warmup_epochs=0.5",
        "trainer.max_epochs=6",
        "trainer.batch_size=8",
        "trainer.accumulate_batches=2",
        "trainer.monitor=val/acc",
        "name=tiny_bert_run",
    )
    run = store.only_run("tiny_bert_run")
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test/acc"] >= 0.9  # the two classes use disjoint words
    lr = [point.value for point in store.client().get_metric_history(run.info.run_id, "train/lr")]
    assert lr[0] < lr[1] and lr[-1] < lr[1]  # warmup, then linear decay
    result = run_module(
        "predict",
        [f"run_id={run.info.run_id}", "text=SHOCKING secret hoax EXPOSED!"],
        store, shared_data, tmp_path,
    )  # fmt: skip
    rows = list(csv.DictReader(next(tmp_path.rglob("predictions.csv")).open()))
    assert rows[0]["prediction"] == "unreliable", result.output


def test_the_real_minilm_trains_a_few_steps_on_imdb(train, store):
    train(
        "experiment=imdb_minilm",
        "dataset.train_subset=64",
        "dataset.test_subset=32",
        "dataset.val_fraction=0.25",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "model.tokenizer.max_length=64",
        "model.tokenizer.keep_tail=32",
        "logger.log_model=false",
        "name=minilm_steps",
    )
    run = store.only_run("minilm_steps")
    assert run.info.status == "FINISHED"
    assert run.data.params["data/vocabulary_size"] == "30522"  # MiniLM's WordPiece vocabulary
    assert run.data.params["data/test_rows"] == "32"


def test_a_hub_model_without_network_is_a_clear_error(train, store, shared_data, tmp_path):
    result = run_module(
        "train",
        ["experiment=imdb_bert", "model.pretrained=bert-base-uncased", "trainer.max_epochs=1"],
        store, shared_data, tmp_path, expect_success=False, timeout=180,
        extra_environment={"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot load the pretrained model 'bert-base-uncased'" in result.output
    assert str(tmp_path / "hf") in result.output
    assert "model.pretrained=/path/to/model" in result.output
    assert "Traceback" not in result.output
