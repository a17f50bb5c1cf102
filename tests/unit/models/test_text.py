"""NBSVM's naive-Bayes features: each term's presence scaled by how much more often texts
of one class hold it than texts of the other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sparse
from omegaconf import OmegaConf

from ml_experiments.config.build import build
from ml_experiments.config.schemas import Modality, Task, TextLinearModelConfig
from ml_experiments.data import DatasetMeta
from ml_experiments.engine.sklearn_fit import fit_and_test
from ml_experiments.models import fitted_state
from ml_experiments.models.text import NaiveBayesScaler, PresenceVectorizer
from tests.unit.engine.test_sklearn_fit import load_long_documents, write_long_documents

CONF = Path(__file__).resolve().parents[3] / "conf"
# Term presence of 4 texts over 3 terms: term 0 only in "pos" texts, term 1 only in "neg"
# texts, term 2 in all of them.
PRESENCE = sparse.csr_matrix(np.array([[1, 0, 1], [2, 0, 1], [0, 1, 1], [0, 3, 1]]))
LABELS = np.array(["pos", "pos", "neg", "neg"], dtype=object)


def test_a_term_of_one_class_is_weighted_towards_it_and_a_shared_term_not_at_all():
    scaler = NaiveBayesScaler(alpha=1.0).fit(PRESENCE, LABELS)
    (ratios,) = scaler.ratios_  # two classes: one row, "pos" (the second sorted) vs "neg"
    # Smoothed presence counts: pos (3, 1, 3), neg (1, 3, 3), each of total 7.
    np.testing.assert_allclose(ratios, [np.log(3), -np.log(3), 0.0], rtol=1e-6)


def test_presence_not_count_is_scaled():
    scaler = NaiveBayesScaler().fit(PRESENCE, LABELS)
    scaled = scaler.transform(PRESENCE).toarray()
    # The second text holds term 0 twice and the fourth term 1 three times: counted once.
    np.testing.assert_allclose(scaled[1], scaled[0], rtol=1e-6)
    np.testing.assert_allclose(scaled[3], scaled[2], rtol=1e-6)


def test_each_of_several_classes_gets_its_own_block_of_features():
    labels = np.array(["a", "a", "b", "c"], dtype=object)
    scaler = NaiveBayesScaler().fit(PRESENCE, labels)
    assert scaler.ratios_.shape == (3, 3)  # one row per class: that class against the rest
    assert scaler.transform(PRESENCE).shape == (4, 9)
    # Term 1 is in b's and c's texts only: it speaks against a, for b and for c.
    assert scaler.ratios_[0, 1] < 0 < scaler.ratios_[1, 1]


@pytest.mark.parametrize(
    "options",
    [
        {"ngram_range": (1, 3), "min_df": 2},
        {"ngram_range": (1, 2), "min_df": 1, "max_features": 500},
        {"ngram_range": (1, 1), "min_df": 3, "token_pattern": r"(?u)\b\w+\b|[!?]"},
        {"ngram_range": (2, 3), "min_df": 1, "stop_words": "english"},
    ],
)
def test_the_presence_vectorizer_gives_what_scikit_learn_does(options, fitted):
    """The same vocabulary and 0/1 matrix as CountVectorizer(binary=True), on the training
    texts and on texts with terms it has not seen."""
    from sklearn.feature_extraction.text import CountVectorizer

    data, _ = fitted
    train = list(data.train.texts)
    unseen = [*data.test.texts, "", "wholly unseen words!", "w1 w1 w1 ?"]
    ours, theirs = PresenceVectorizer(**options), CountVectorizer(binary=True, **options)
    ours_train, theirs_train = ours.fit_transform(train), theirs.fit_transform(train)
    if "max_features" not in options:  # scikit-learn breaks ties among equals its own way
        assert ours.vocabulary_ == theirs.vocabulary_
        assert (ours_train != theirs_train).nnz == 0
    else:
        limit = options["max_features"]
        assert len(ours.vocabulary_) == limit
        every_term = {key: value for key, value in options.items() if key != "max_features"}
        full = CountVectorizer(binary=True, **every_term)
        texts_with = np.asarray(full.fit_transform(train).sum(axis=0)).ravel()
        kept = sorted(texts_with[full.vocabulary_[term]] for term in ours.vocabulary_)
        assert kept == sorted(texts_with)[-limit:]  # the most frequent terms
        theirs = CountVectorizer(binary=True, vocabulary=ours.vocabulary_, **every_term)
    assert (ours.transform(unseen) != theirs.transform(unseen)).nnz == 0
    assert ours.transform(unseen).dtype == theirs.transform(unseen).dtype


def nbsvm(**options):
    meta = DatasetMeta("toy", Task.classification, (), ["common", "rare"], modality=Modality.text)
    own = OmegaConf.load(CONF / "model" / "nbsvm.yaml")  # its settings, not the schema's
    own.pop("defaults")
    config = OmegaConf.merge(OmegaConf.structured(TextLinearModelConfig), own, options)
    return build(config, meta=meta)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    data = load_long_documents(write_long_documents(tmp_path_factory.mktemp("corpus") / "c.csv"))
    return data, fit_and_test(nbsvm(), data)


def test_nbsvm_separates_long_documents_that_the_majority_class_does_not(fitted):
    data, result = fitted
    majority = data.test.y.bincount().max().item() / len(data.test.y)
    assert [name for name, _ in result.estimator.steps] == ["words", "nb", "classifier"]
    assert result.metrics["test/acc"] >= majority + 0.15
    assert result.metrics["test/f1_macro"] >= 0.75


def test_a_saved_nbsvm_loads_without_pickle_and_predicts_the_same(fitted, tmp_path):
    data, result = fitted
    fitted_state.save(result.estimator, tmp_path)
    loaded = fitted_state.load_into(nbsvm(), tmp_path)
    np.testing.assert_array_equal(
        loaded.named_steps["nb"].ratios_, result.estimator.named_steps["nb"].ratios_
    )
    texts = list(data.test.texts) + ["<b>an unseen text!</b>"]
    np.testing.assert_allclose(
        loaded.predict_proba(texts), result.estimator.predict_proba(texts), rtol=1e-6
    )


def test_many_texts_are_split_with_a_forked_worker_and_give_the_same_matrix(fitted, monkeypatch):
    import ml_experiments.models.text as text_models

    data, _ = fitted
    vectorizer = PresenceVectorizer(ngram_range=(1, 2), min_df=2)
    vectorizer.fit_transform(list(data.train.texts))
    texts = [*data.test.texts, *data.val.texts]
    alone = vectorizer.transform(texts)  # fewer than PARALLEL_TEXTS: one process
    workers = []
    forked = text_models._in_forked_worker

    def counted(function, argument):
        workers.append(len(argument))
        return forked(function, argument)

    monkeypatch.setattr(text_models, "PARALLEL_TEXTS", 10)
    monkeypatch.setattr(text_models, "_in_forked_worker", counted)
    split = vectorizer.transform(texts)
    assert workers == [len(texts) - len(texts) // 2]  # the second half went to the worker
    assert split.shape == alone.shape and (split != alone).nnz == 0
