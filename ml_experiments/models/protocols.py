"""The optional abilities a model may have, declared once.

The training loop, the run and the commands ask `isinstance(model, Ability)` instead
of probing attributes: a model that has an ability says so by having its methods.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class TextTokenizer(Protocol):
    """Turns raw texts into padded rows of token ids (`Vocabulary`, `PretrainedTokenizer`)."""

    max_length: int

    def __len__(self) -> int: ...

    def fit(self, texts) -> TextTokenizer: ...

    def encode(self, texts) -> torch.Tensor: ...

    def state_dict(self) -> dict: ...


@runtime_checkable
class ReadsText(Protocol):
    """A PyTorch text model: it carries its fitted tokenizer, so it takes raw strings."""

    tokenizer: TextTokenizer

    def predict_texts(self, texts: list[str]) -> torch.Tensor: ...


@runtime_checkable
class ReadsFields(Protocol):
    """A scikit-learn text model that reads a record's fields apart: it takes a DataFrame
    with a column per name of `field_names`, not one text per example."""

    field_names: list[str]
    text_field: str  # the field that holds the text (LIAR's statement)


@runtime_checkable
class HasParameterGroups(Protocol):
    """Its own optimizer groups, e.g. smaller learning rates for earlier layers."""

    def parameter_groups(self, lr: float) -> list[dict]: ...


@runtime_checkable
class EpochAware(Protocol):
    """Changes itself as epochs go by, e.g. unfreezing one more stage."""

    def on_epoch_start(self, epoch: int) -> None: ...


@runtime_checkable
class LoadsPretrained(Protocol):
    """Starts from pretrained weights: `weights` names them, `load_pretrained` takes them
    from a source the run resolved (a checkpoint file, or torchvision weights by name)."""

    weights: str | None

    def load_pretrained(self, source: str) -> None: ...
