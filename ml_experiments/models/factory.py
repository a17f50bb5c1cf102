"""One place that builds a model from its config: for a run's data, or for a checkpoint.

A text model first needs its tokenizer: fitted on the training texts for a new run,
rebuilt from its saved state for a trained one. Its size (the vocabulary) comes from it.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from ml_experiments.config.build import build
from ml_experiments.config.schemas import Modality
from ml_experiments.data import DataBundle, DatasetMeta
from ml_experiments.data.vocabulary import Vocabulary, tokenize_bundle
from ml_experiments.errors import ConfigError
from ml_experiments.models.protocols import TextTokenizer


def build_model(node: DictConfig, meta: DatasetMeta, tokenizer: TextTokenizer | None = None):
    """The model `node` describes, sized from `meta` (and from `tokenizer`, for text models)."""
    if "tokenizer" not in node:
        return build(node, meta=meta)
    return build(node, drop=("name", "tokenizer"), meta=meta, tokenizer=tokenizer)


def build_for_data(node: DictConfig, data: DataBundle) -> tuple[DataBundle, Any]:
    """The model for `data`. A PyTorch text model first fits its tokenizer on the training
    texts, and every split becomes token ids."""
    # torch, scikit-learn, and scikit-learn reading fields apart
    reads_text = "tokenizer" in node or "vectorizer" in node or "text_field" in node
    if reads_text != (data.meta.modality == Modality.text):
        raise ConfigError(_modality_mismatch(node.name, data.meta.name, reads_text))
    if "text_field" in node:
        _check_fields(node, data)
    if "tokenizer" not in node:
        return data, build_model(node, data.meta)
    tokenizer = build(node.tokenizer, drop=())
    data = tokenize_bundle(data, tokenizer)
    return data, build_model(node, data.meta, tokenizer)


def _check_fields(node: DictConfig, data: DataBundle) -> None:
    """A model that reads fields apart needs data that keeps them, with each it names."""
    fields = data.train.fields
    if fields is None:
        raise ConfigError(
            f"model={node.name} reads each field of a record apart, and dataset="
            f"{data.meta.name} has one text per example. Use dataset=liar with "
            "dataset.fields naming the fields, or a model that reads one text (tfidf_logreg)."
        )
    wanted = [node.text_field, *node.categories, *node.lists, *node.phrases]
    missing = [name for name in wanted if name not in fields.columns]
    if missing:
        raise ConfigError(
            f"model={node.name} reads fields {missing}, which dataset.fields does not hold "
            f"(it holds {list(fields.columns)}): add them to dataset.fields"
        )


def tokenizer_from_state(state: dict) -> TextTokenizer:
    """A trained text model's tokenizer, from what its checkpoint saved."""
    if state.get("kind") == "pretrained":  # its files: a local folder or the hub cache
        from ml_experiments.models.bert import PretrainedTokenizer

        return PretrainedTokenizer(state["pretrained"], state["max_length"], state["keep_tail"])
    return Vocabulary.from_state(state)


def _modality_mismatch(model: str, dataset: str, model_reads_text: bool) -> str:
    if model_reads_text:
        return (
            f"model={model} reads text, and dataset={dataset} is not text. "
            "Use it with dataset=liar, imdb, fake_news or text_csv (fields_logreg: liar)."
        )
    return (
        f"model={model} takes numbers, and dataset={dataset} is raw text. "
        "Use model=lstm, model=tfidf_logreg or model=bow_logreg."
    )
