"""The recurrent classifier: padding never changes a text's output, direction matters."""

from __future__ import annotations

import pytest
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DatasetMeta
from ml_experiments.data.vocabulary import Vocabulary
from ml_experiments.models.rnn import RecurrentClassifier


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_padding_never_changes_a_texts_output(cell, pooling):
    """A short text gives the same logits alone and beside a long one, on packed
    sequences and on the padded batch alike."""
    torch.manual_seed(0)
    vocabulary = Vocabulary(min_freq=1, max_length=12).fit(["a b c d e f g h i j k l"])
    meta = DatasetMeta("toy", Task.classification, (12,), ["x", "y", "z"], modality=Modality.text)
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
    meta = DatasetMeta("toy", Task.classification, (6,), ["x", "y"], modality=Modality.text)
    model = RecurrentClassifier(meta, vocabulary, hidden_size=8, embedding_dim=6).eval()
    forward, backward = model(vocabulary.encode(["a b c d", "d c b a"]))
    assert not torch.allclose(forward, backward)
