"""Stage 5: a pretrained Hugging Face encoder (BERT, DistilBERT, MiniLM, ...) fine-tuned
to classify text, through the same PyTorch loop as every other model.

`model.pretrained` is a hub id (`bert-base-uncased`) or a local directory; the
tokenizer comes from the same place. Texts are tokenized once, padded to
`max_length`, and each batch is cut to its longest text (dynamic padding). The
tokenizer travels inside the trained model, so a saved model reads raw strings.
"""

from __future__ import annotations

import torch
from torch import nn

from ml_experiments.data import DatasetMeta
from ml_experiments.errors import ConfigError, DataError


class PretrainedTokenizer:
    """The pretrained model's own tokenizer, behind the interface of `Vocabulary`: there
    is nothing to fit, and `encode` gives padded rows of ids."""

    def __init__(self, pretrained: str, max_length: int = 256, keep_tail: int = 0):
        from transformers import AutoTokenizer

        if not 0 <= keep_tail < max_length - 2:
            raise ConfigError(
                f"model.tokenizer.keep_tail={keep_tail} must be at least 0 and leave room in "
                f"max_length={max_length} for the start of the text and two special tokens"
            )
        self.pretrained = pretrained
        self.max_length = max_length
        self.keep_tail = keep_tail
        self.tokenizer = _from_pretrained(AutoTokenizer, pretrained)
        self.tokenizer.padding_side = "right"  # the model cuts each batch's padding at the end
        self.pad_id = self.tokenizer.pad_token_id
        self.unknown_id = self.tokenizer.unk_token_id

    def __len__(self) -> int:
        return len(self.tokenizer)

    def fit(self, texts) -> PretrainedTokenizer:
        del texts  # the vocabulary was fixed in pretraining
        return self

    def encode(self, texts) -> torch.Tensor:
        if self.keep_tail:
            return self._encode_head_and_tail(texts)
        encoded = self.tokenizer(
            [str(text) for text in texts],
            max_length=self.max_length,
            truncation=True,
            padding="max_length",
            return_tensors="pt",
            return_attention_mask=False,
        )
        return encoded["input_ids"]

    def _encode_head_and_tail(self, texts) -> torch.Tensor:
        """A long text keeps its start and its last `keep_tail` tokens: a review's verdict
        is often at its end (Sun et al. 2019 found head + tail best for IMDB)."""
        words = self.tokenizer(
            [str(text) for text in texts],
            add_special_tokens=False,
            return_attention_mask=False,
            verbose=False,  # no warning for texts longer than the model: they are cut below
        )["input_ids"]
        tokenizer = self.tokenizer
        first = _first_present(tokenizer.cls_token_id, tokenizer.bos_token_id)
        last = _first_present(tokenizer.sep_token_id, tokenizer.eos_token_id)
        room = self.max_length - len(first) - len(last)
        head = room - self.keep_tail
        rows = torch.full((len(words), self.max_length), self.pad_id, dtype=torch.long)
        for row, ids in enumerate(words):
            if len(ids) > room:
                ids = ids[:head] + ids[len(ids) - self.keep_tail :]
            ids = first + ids + last
            rows[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return rows

    def state_dict(self) -> dict:
        return {
            "kind": "pretrained",
            "pretrained": self.pretrained,
            "max_length": self.max_length,
            "keep_tail": self.keep_tail,
        }


def _first_present(*token_ids: int | None) -> list[int]:
    """[the first of these special tokens the tokenizer has], or [] if it has none."""
    return next(([token] for token in token_ids if token is not None), [])


class TransformerClassifier(nn.Module):
    def __init__(self, meta: DatasetMeta, tokenizer: PretrainedTokenizer, pretrained: str):
        super().__init__()
        from transformers import AutoModelForSequenceClassification

        if meta.input_shape != (tokenizer.max_length,):
            raise ConfigError(
                f"model=bert reads text, but dataset {meta.name} gives inputs of shape "
                f"{meta.input_shape}; use it with a text dataset (liar, imdb, text_csv)."
            )
        self.tokenizer = tokenizer
        self.encoder = _from_pretrained(
            AutoModelForSequenceClassification, pretrained, num_labels=meta.output_size
        )
        positions = getattr(self.encoder.config, "max_position_embeddings", None)
        if positions is not None and tokenizer.max_length > positions:
            raise ConfigError(
                f"model.tokenizer.max_length={tokenizer.max_length} is longer than the "
                f"{positions} positions {pretrained} was trained with; lower it."
            )

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        is_token = token_ids != self.tokenizer.pad_id
        longest = int(is_token.sum(dim=1).max())  # padding is at the end: cut it off
        return self.encoder(
            input_ids=token_ids[:, :longest], attention_mask=is_token[:, :longest].long()
        ).logits

    def parameter_groups(self, lr: float) -> list[dict]:
        """No weight decay on biases and LayerNorm weights (the 1-D parameters)."""
        matrices = [p for p in self.parameters() if p.ndim >= 2]
        vectors = [p for p in self.parameters() if p.ndim < 2]
        return [
            {"params": matrices, "lr": lr, "name": "weights"},
            {"params": vectors, "lr": lr, "weight_decay": 0.0, "name": "biases_and_norms"},
        ]

    @torch.no_grad()
    def predict_texts(self, texts: list[str]) -> torch.Tensor:
        """Class probabilities for raw strings."""
        self.eval()
        device = next(self.parameters()).device
        return torch.softmax(self(self.tokenizer.encode(texts).to(device)), dim=1)


def _from_pretrained(auto_class, pretrained: str, **options):
    """`auto_class.from_pretrained`, with an error that says what to do when the files are
    neither cached nor downloadable."""
    from huggingface_hub import constants

    try:
        return auto_class.from_pretrained(pretrained, **options)
    except (OSError, ValueError) as error:  # no network, not cached, bad id or folder
        raise DataError(
            f"cannot load the pretrained model {pretrained!r}: it is not a local folder of "
            f"model files, and it is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) "
            f"or could not be downloaded ({type(error).__name__}: "
            f"{str(error).splitlines()[0]}). On a machine without internet, download it "
            "elsewhere and pass its folder: model.pretrained=/path/to/model (with its "
            "config.json, weights and tokenizer files)."
        ) from error
