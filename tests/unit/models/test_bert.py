"""The pretrained-encoder classifier and its tokenizer, on a tiny random BERT written by the
test."""

from __future__ import annotations

import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DatasetMeta


def test_the_tokenizer_pads_and_the_model_cuts_each_batch_to_its_longest_text(tiny_bert):
    from ml_experiments.models.bert import PretrainedTokenizer, TransformerClassifier

    tokenizer = PretrainedTokenizer(str(tiny_bert), max_length=12)
    ids = tokenizer.encode(["Shocking hoax", "senate vote " * 20])
    assert ids.shape == (2, 12)
    word_ids = tokenizer.tokenizer.convert_tokens_to_ids(["shocking", "hoax"])
    assert ids[0].tolist()[:4] == [2, *word_ids, 3]  # [CLS] shocking hoax [SEP]
    assert ids[0, 4:].eq(tokenizer.pad_id).all() and ids[1, -1] == 3  # [SEP] ends a cut text
    meta = DatasetMeta("toy", Task.classification, (12,), ["a", "b"], modality=Modality.text)
    model = TransformerClassifier(meta, tokenizer, str(tiny_bert)).eval()
    alone = model(tokenizer.encode(["Shocking hoax"]))
    beside = model(ids)
    torch.testing.assert_close(alone[0], beside[0])  # padding never reaches attention
    groups = model.parameter_groups(1e-3)
    assert groups[1]["weight_decay"] == 0.0
    assert all(p.ndim == 1 for p in groups[1]["params"])
    assert any("LayerNorm" in name for name, p in model.named_parameters()
               if any(p is q for q in groups[1]["params"]))  # fmt: skip


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
