"""Raw text -> token ids for the PyTorch text models, with a vocabulary fitted on train only.

A `Vocabulary` cleans a text (HTML, URLs, case), splits it into words, drops stop
words, and maps each word to its id: 0 pads, 1 stands for a word it never saw (or
saw too rarely). It travels inside the trained model, so a saved model still reads
raw strings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import torch

from ml_experiments.data.base import DataBundle, TensorSplit
from ml_experiments.data.cleaning import TextCleaner
from ml_experiments.errors import DataError

PAD_ID, UNKNOWN_ID = 0, 1
SPECIAL_TOKENS = ["<pad>", "<unk>"]
# Words (with an inner apostrophe: don't, it's) and the two punctuation marks that carry
# sentiment; other punctuation would only use up the length budget.
WORD = re.compile(r"\w+(?:'\w+)?|[!?]")


class Vocabulary:
    """Words to ids: fit on the training texts, then encode any text to a row of ids."""

    pad_id, unknown_id = PAD_ID, UNKNOWN_ID

    def __init__(
        self,
        lowercase: bool = True,
        strip_html: bool = True,
        strip_urls: bool = True,
        stop_words: str | None = None,
        min_freq: int = 2,
        max_size: int | None = None,
        max_length: int = 256,
    ):
        if min_freq < 1 or max_length < 1 or (max_size is not None and max_size < 1):
            raise ValueError("min_freq, max_size and max_length must be at least 1")
        if stop_words not in (None, "english"):
            raise ValueError(f"stop_words must be null or english, got {stop_words!r}")
        self.options = {
            "lowercase": lowercase,
            "strip_html": strip_html,
            "strip_urls": strip_urls,
            "stop_words": stop_words,
            "min_freq": min_freq,
            "max_size": max_size,
            "max_length": max_length,
        }
        self.cleaner = TextCleaner(lowercase, strip_html, strip_urls)
        self.stop_words = _english_stop_words() if stop_words == "english" else frozenset()
        self.min_freq = min_freq
        self.max_size = max_size
        self.max_length = max_length
        self.tokens: list[str] = list(SPECIAL_TOKENS)
        self.ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.tokens)

    def words(self, text: str) -> list[str]:
        return [word for word in WORD.findall(self.cleaner(text)) if word not in self.stop_words]

    def fit(self, texts: Iterable[str]) -> Vocabulary:
        """Keep the words seen at least `min_freq` times, the `max_size` most frequent first."""
        counts = Counter()
        for text in texts:
            counts.update(self.words(text))
        # most_common breaks ties by first appearance, so the same texts give the same ids.
        frequent = [word for word, count in counts.most_common() if count >= self.min_freq]
        if not frequent:
            raise DataError(
                f"no word of the training texts appears {self.min_freq} times or more: the "
                "vocabulary is empty. Lower model.tokenizer.min_freq."
            )
        self.tokens = SPECIAL_TOKENS + frequent[: self.max_size]
        self.ids = {word: index for index, word in enumerate(self.tokens)}
        return self

    def state_dict(self) -> dict:
        """Plain lists and values, as a checkpoint loaded with weights_only=True needs."""
        return {"options": dict(self.options), "tokens": list(self.tokens)}

    @classmethod
    def from_state(cls, state: dict) -> Vocabulary:
        vocabulary = cls(**state["options"])
        vocabulary.tokens = list(state["tokens"])
        vocabulary.ids = {word: index for index, word in enumerate(vocabulary.tokens)}
        return vocabulary

    def encode(self, texts: Iterable[str]) -> torch.Tensor:
        """(texts, max_length) int64 ids: the first max_length words, then padding."""
        if not self.ids:
            raise RuntimeError("fit the vocabulary on training texts before encoding")
        rows = []
        for text in texts:
            ids = [self.ids.get(word, UNKNOWN_ID) for word in self.words(text)[: self.max_length]]
            rows.append(np.pad(np.asarray(ids, dtype=np.int64), (0, self.max_length - len(ids))))
        if not rows:
            return torch.zeros((0, self.max_length), dtype=torch.long)
        return torch.from_numpy(np.stack(rows))


@dataclass
class TokenizedSplit(TensorSplit):
    """Token ids as `x`, and the raw texts beside them for reports of mistakes."""

    texts: np.ndarray

    def to(self, device: torch.device) -> TokenizedSplit:
        return TokenizedSplit(self.x.to(device), self.y.to(device), self.texts)


def tokenize_bundle(data: DataBundle, tokenizer) -> DataBundle:
    """Fit `tokenizer` (a `Vocabulary`, or a pretrained model's) on the training texts,
    then encode every split with it."""
    tokenizer.fit(data.train.texts)
    splits = {
        name: TokenizedSplit(tokenizer.encode(split.texts), split.y, split.texts)
        for name, split in (("train", data.train), ("val", data.val), ("test", data.test))
    }
    train_ids, val_ids = splits["train"].x, splits["val"].x
    summary = data.summary | {
        "vocabulary_size": len(tokenizer),
        # Worth seeing: how many texts max_length may cut, how much of unseen text is unknown.
        "train_texts_reaching_max_length": int((train_ids[:, -1] != tokenizer.pad_id).sum()),
        "val_unknown_token_share": round(
            _share(val_ids, tokenizer.unknown_id, tokenizer.pad_id), 4
        ),
    }
    meta = replace(data.meta, input_shape=(tokenizer.max_length,))
    return replace(data, **splits, meta=meta, summary=summary)


def _share(ids: torch.Tensor, token: int, pad: int) -> float:
    """How many of the non-padding ids are `token`."""
    return (ids == token).sum().item() / max((ids != pad).sum().item(), 1)


def _english_stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)
