"""The vocabulary of the PyTorch text models: fitted on the training texts only, its
options and its saved state."""

from __future__ import annotations

import pytest

from ml_experiments.data.vocabulary import PAD_ID, UNKNOWN_ID, Vocabulary, tokenize_bundle
from tests.helpers.data_files import text_bundle


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
