"""The scikit-learn fit choosing a linear model's C on the validation split: on a small
corpus of long documents, too strong a regularisation answers the majority class."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ml_experiments.config.build import build
from ml_experiments.config.schemas import (
    C_GRID,
    Modality,
    SklearnLinearModelConfig,
    Task,
    TextLinearModelConfig,
)
from ml_experiments.data import DataBundle, DatasetMeta, TensorSplit
from ml_experiments.data.text import load_text_csv
from ml_experiments.engine.sklearn_fit import fit_and_test
from ml_experiments.errors import ConfigError
from ml_experiments.models import fitted_state

OLD_DEFAULT_C = 1.0  # the fixed C every linear model had before C was chosen per run


def write_long_documents(path: Path, count: int = 180, words: int = 300, seed: int = 0) -> Path:
    """A CSV (text,label) of `count` documents of `words` words each, two classes 2:1.

    Both classes draw from one vocabulary of 3,000 words with Zipf frequencies; each
    uses its own 60 of the commoner words three times as often. No single word tells
    the classes apart: the signal is weak and spread over many, which a linear model
    picks up only when weakly regularised."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{rank}" for rank in range(3000)])
    frequencies = 1.0 / np.arange(1, len(vocabulary) + 1)
    labels = rng.permutation(np.arange(count) < count // 3).astype(int)  # 1: the minority
    marked = [rng.choice(np.arange(20, 400), 60, replace=False) for _ in range(2)]
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        for label in labels:
            weights = frequencies.copy()
            weights[marked[label]] *= 3.0
            chosen = rng.choice(len(vocabulary), words, p=weights / weights.sum())
            writer.writerow([" ".join(vocabulary[chosen]), ["common", "rare"][label]])
    return path


def load_long_documents(path: Path) -> DataBundle:
    """The corpus split as `dataset=text_csv` splits it by default."""
    options = {"labels": None, "label_names": None, "separator": ",", "drop_duplicates": True}
    return load_text_csv(
        "long_documents", str(path), ["text"], "label", **options,
        val_fraction=0.15, test_fraction=0.15, seed=42,
    )  # fmt: skip


@pytest.fixture(scope="module")
def long_documents(tmp_path_factory) -> DataBundle:
    return load_long_documents(write_long_documents(tmp_path_factory.mktemp("corpus") / "c.csv"))


def text_model(**options):
    meta = DatasetMeta("toy", Task.classification, (), ["a", "b"], modality=Modality.text)
    return build(OmegaConf.structured(TextLinearModelConfig(**options)), meta=meta)


def majority_share(split) -> float:
    return torch.bincount(split.y).max().item() / len(split.y)


def test_the_old_default_C_answers_the_majority_class_for_every_document(long_documents):
    result = fit_and_test(text_model(C=OLD_DEFAULT_C), long_documents)
    assert result.test_outputs.argmax(dim=1).unique().tolist() == [0]  # "common"
    assert result.metrics["test/acc"] == pytest.approx(majority_share(long_documents.test))
    assert result.metrics["test/f1_macro"] < 0.45


def test_by_default_C_is_chosen_on_validation_and_beats_the_majority_class(long_documents):
    result = fit_and_test(text_model(), long_documents)
    chosen = result.params["model.C_chosen"]
    assert chosen >= 10
    assert result.estimator.named_steps["classifier"].C == chosen
    assert result.metrics[f"search/C_{chosen:g}/val/f1_macro"] == result.metrics["val/f1_macro"]
    assert result.metrics[f"search/C_{OLD_DEFAULT_C:g}/val/f1_macro"] < 0.45
    assert result.metrics["test/acc"] >= majority_share(long_documents.test) + 0.15
    assert result.metrics["test/f1_macro"] >= 0.75


def test_every_candidate_is_scored_and_none_on_the_test_split(long_documents):
    searched = fit_and_test(text_model(), long_documents).metrics
    search_keys = {key for key in searched if key.startswith("search/")}
    assert search_keys == {
        f"search/C_{value:g}/val/{name}" for value in C_GRID for name in ("loss", "acc", "f1_macro")
    }


def test_a_fixed_C_is_fitted_as_given_without_a_search(long_documents):
    result = fit_and_test(text_model(C=4.0), long_documents)
    assert result.estimator.named_steps["classifier"].C == 4.0
    assert result.params == {}
    assert not any(key.startswith("search/") for key in result.metrics)


def test_the_vectorizer_is_fitted_once_for_the_whole_grid(long_documents, monkeypatch):
    from sklearn.feature_extraction.text import TfidfVectorizer

    fits = []
    fit_transform = TfidfVectorizer.fit_transform

    def counted(self, *args, **kwargs):
        fits.append(self)
        return fit_transform(self, *args, **kwargs)

    monkeypatch.setattr(TfidfVectorizer, "fit_transform", counted)
    fit_and_test(text_model(), long_documents)
    assert len(fits) == 1


def test_each_split_goes_through_the_vectorizer_once(long_documents, monkeypatch):
    """The training split, vectorized to fit the classifier, is scored from those
    features, not vectorized again (on IMDB's 1-3-grams that pass is half a minute)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    passes = []
    fit_transform, transform = TfidfVectorizer.fit_transform, TfidfVectorizer.transform

    def counted_fit(self, texts, *args, **kwargs):
        passes.append(("fit", len(texts)))
        return fit_transform(self, texts, *args, **kwargs)

    def counted(self, texts, *args, **kwargs):
        passes.append(("transform", len(texts)))
        return transform(self, texts, *args, **kwargs)

    monkeypatch.setattr(TfidfVectorizer, "fit_transform", counted_fit)
    monkeypatch.setattr(TfidfVectorizer, "transform", counted)
    fit_and_test(text_model(C=4.0), long_documents)
    assert passes == [
        ("fit", len(long_documents.train.texts)),
        ("transform", len(long_documents.val.texts)),
        ("transform", len(long_documents.test.texts)),
    ]


def test_the_chosen_model_loads_into_the_model_rebuilt_from_its_config(long_documents, tmp_path):
    result = fit_and_test(text_model(), long_documents)
    fitted_state.save(result.estimator, tmp_path)
    loaded = fitted_state.load_into(text_model(), tmp_path)
    texts = long_documents.test.texts
    np.testing.assert_allclose(
        loaded.predict_proba(texts), result.estimator.predict_proba(texts), rtol=1e-6
    )


def test_a_linear_svm_is_searched_the_same_way(long_documents):
    result = fit_and_test(text_model(classifier="linear_svm"), long_documents)
    assert result.params["model.C_chosen"] in C_GRID
    assert result.metrics["test/acc"] > majority_share(long_documents.test)


def tabular_bundle(task: Task) -> DataBundle:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(120, 4, generator=generator)
    signal = x[:, 0] + 0.5 * torch.randn(120, generator=generator)
    y = (signal > 0).long() if task == Task.classification else signal
    classes = ["neg", "pos"] if task == Task.classification else None
    meta = DatasetMeta("toy", task, (4,), class_names=classes, modality=Modality.tabular)

    def split(rows: slice) -> TensorSplit:
        return TensorSplit(x[rows], y[rows])

    return DataBundle(split(slice(0, 80)), split(slice(80, 100)), split(slice(100, 120)), meta)


def test_sklearn_linear_chooses_the_C_of_its_logistic_regression():
    data = tabular_bundle(Task.classification)
    estimator = build(OmegaConf.structured(SklearnLinearModelConfig()), meta=data.meta)
    result = fit_and_test(estimator, data)
    assert type(result.estimator).__name__ == "LogisticRegression"
    assert result.estimator.C == result.params["model.C_chosen"]


def test_sklearn_linear_regression_stays_least_squares_without_a_search():
    data = tabular_bundle(Task.regression)
    estimator = build(OmegaConf.structured(SklearnLinearModelConfig()), meta=data.meta)
    result = fit_and_test(estimator, data)
    assert type(result.estimator).__name__ == "LinearRegression"
    assert result.params == {}


def test_an_empty_grid_without_a_C_is_refused():
    with pytest.raises(ConfigError, match="C_grid"):
        text_model(C_grid=[])
