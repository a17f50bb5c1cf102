"""Stage 5 text: a pretrained Hugging Face encoder through the entry point. A tiny random
BERT (written by the test, with its tokenizer) for the loop, saving and predicting; the
real MiniLM for a few steps; gradient accumulation, the schedule and the no-network error."""

from __future__ import annotations

import csv

import pytest
import torch

from ml_experiments.data import DatasetMeta
from ml_experiments.data.base import CLASSIFICATION
from tests.conftest import run_module
from tests.kaggle_format import RELIABLE_WORDS, UNRELIABLE_WORDS

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 2-layer BERT with random weights and a word-level vocabulary, saved as a hub model
    folder is: config.json, model.safetensors and the tokenizer files."""
    import transformers

    folder = tmp_path_factory.mktemp("tiny_bert")
    words = sorted(set(f"{RELIABLE_WORDS} {UNRELIABLE_WORDS} story news article".split()))
    vocabulary = {token: index for index, token in enumerate(SPECIAL + words)}
    transformers.BertTokenizer(vocab=vocabulary).save_pretrained(folder)
    config = transformers.BertConfig(
        vocab_size=len(vocabulary), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    return folder


def test_the_tokenizer_pads_and_the_model_cuts_each_batch_to_its_longest_text(tiny_bert):
    from ml_experiments.models.bert import PretrainedTokenizer, TransformerClassifier

    tokenizer = PretrainedTokenizer(str(tiny_bert), max_length=12)
    ids = tokenizer.encode(["Shocking hoax", "senate vote " * 20])
    assert ids.shape == (2, 12)
    word_ids = tokenizer.tokenizer.convert_tokens_to_ids(["shocking", "hoax"])
    assert ids[0].tolist()[:4] == [2, *word_ids, 3]  # [CLS] shocking hoax [SEP]
    assert ids[0, 4:].eq(tokenizer.pad_id).all() and ids[1, -1] == 3  # [SEP] ends a cut text
    meta = DatasetMeta("toy", CLASSIFICATION, (12,), class_names=["a", "b"])
    model = TransformerClassifier(meta, tokenizer, str(tiny_bert)).eval()
    alone = model(tokenizer.encode(["Shocking hoax"]))
    beside = model(ids)
    torch.testing.assert_close(alone[0], beside[0])  # padding never reaches attention
    groups = model.parameter_groups(1e-3)
    assert groups[1]["weight_decay"] == 0.0
    assert all(p.ndim == 1 for p in groups[1]["params"])
    assert any("LayerNorm" in name for name, p in model.named_parameters()
               if any(p is q for q in groups[1]["params"]))  # fmt: skip


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


def test_a_long_text_can_keep_its_start_and_its_end(tiny_bert):
    from ml_experiments.models.bert import PretrainedTokenizer

    tokenizer = PretrainedTokenizer(str(tiny_bert), max_length=8, keep_tail=4)
    words = "senate committee report budget hearing vote economy official shocking hoax"
    ids = tokenizer.encode([words, "senate vote"])
    tokens = [tokenizer.tokenizer.convert_ids_to_tokens(row) for row in ids.tolist()]
    # Room for 6 words: the first 2 and the last 4.
    assert tokens[0] == ["[CLS]", "senate", "committee", "economy", "official", "shocking",
                         "hoax", "[SEP]"]  # fmt: skip
    assert tokens[1][:4] == ["[CLS]", "senate", "vote", "[SEP]"]
    assert ids[1, 4:].eq(tokenizer.pad_id).all()


def make_trainer(batch_size: int, accumulate: int, examples: int = 8):
    """A linear model's Trainer on `examples` fixed examples; every trainer made here
    shuffles them the same way (seed 0)."""
    from types import SimpleNamespace

    from ml_experiments.data import DataBundle, TensorSplit
    from ml_experiments.engine.loop import Trainer
    from ml_experiments.engine.schedules import LrSchedule

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    inputs, targets = torch.randn(examples, 3), torch.arange(examples) % 2
    split = TensorSplit(inputs, targets)
    data = DataBundle(split, split, split, DatasetMeta("t", CLASSIFICATION, (3,), ["a", "b"]))
    settings = SimpleNamespace(
        batch_size=batch_size, accumulate_batches=accumulate, limit_train_batches=None,
        gradient_clip_norm=None, label_smoothing=0.0, class_weight=None, amp=False,
        channels_last=False, monitor="val/loss", progress_bar=False,
        checkpoint=SimpleNamespace(dir="unused"),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    trainer = Trainer(model, data, optimizer, LrSchedule(None, "step"), settings,
                      torch.device("cpu"), 0, lambda *_: None, {})  # fmt: skip
    steps = []
    original_step = optimizer.step
    optimizer.step = lambda *a, **k: (steps.append(1), original_step(*a, **k))[1]
    return trainer, steps


def test_gradient_accumulation_steps_once_per_group_on_the_mean_loss():
    """An epoch of 2 batches of 4 accumulated is one step, equal to one batch of 8; 5
    batches of 2 accumulated by 2 are 3 steps, the last on its single batch."""
    whole, whole_steps = make_trainer(batch_size=8, accumulate=1)
    whole.train_one_epoch(1)
    halves, half_steps = make_trainer(batch_size=4, accumulate=2)
    halves.train_one_epoch(1)
    assert whole_steps == half_steps == [1]
    torch.testing.assert_close(halves.model.weight, whole.model.weight)
    separate, separate_steps = make_trainer(batch_size=4, accumulate=1)
    separate.train_one_epoch(1)
    assert len(separate_steps) == 2
    assert not torch.equal(separate.model.weight, whole.model.weight)
    uneven, uneven_steps = make_trainer(batch_size=2, accumulate=2, examples=10)
    uneven.train_one_epoch(1)
    assert len(uneven_steps) == 3


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
