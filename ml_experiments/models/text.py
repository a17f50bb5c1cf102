"""Text classifiers as scikit-learn pipelines: clean -> bag of words, TF-IDF or naive-Bayes
features -> linear model.

The whole pipeline is the model: a saved one holds its cleaning rules and its fitted
vocabulary, so it predicts on raw strings.
"""

from __future__ import annotations

import itertools
import os
from array import array
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer

from ml_experiments.data import DatasetMeta
from ml_experiments.data.cleaning import TextCleaner
from ml_experiments.models.sklearn_models import regularization

# Saved pipelines refer to the cleaner by this module's path: keep it importable here.
__all__ = ["NaiveBayesScaler", "PresenceVectorizer", "TextCleaner", "text_classifier"]


def text_classifier(
    meta: DatasetMeta,
    vectorizer: str,
    ngram_max: int,
    token_pattern: str,
    min_df: int,
    max_features: int | None,
    stop_words: str | None,
    sublinear_tf: bool,
    classifier: str,
    C: float | None,
    C_grid: list[float],
    class_weight: str | None,
    max_iter: int,
    preprocess: dict,
):
    """`vectorizer`: tfidf, count or naive_bayes; `classifier`: logreg or linear_svm; `C`
    null: the value of `C_grid` that does best on the validation split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    del meta  # the vocabulary and the classes come from the training split
    options = {
        "preprocessor": TextCleaner(**preprocess),
        "ngram_range": (1, ngram_max),
        "token_pattern": token_pattern,
        "min_df": min_df,
        "max_features": max_features,
        "stop_words": stop_words,
        "dtype": np.float32,
    }
    if vectorizer == "tfidf":
        steps = [("words", TfidfVectorizer(sublinear_tf=sublinear_tf, **options))]
    elif vectorizer == "naive_bayes":
        steps = [("words", PresenceVectorizer(binary=True, **options)), ("nb", NaiveBayesScaler())]
    else:
        steps = [("words", CountVectorizer(**options))]
    linear = {"C": regularization(C, C_grid), "class_weight": class_weight, "max_iter": max_iter}
    model = LogisticRegression(**linear) if classifier == "logreg" else LinearSVC(**linear)
    return Pipeline([*steps, ("classifier", model)])


class NaiveBayesScaler(TransformerMixin, BaseEstimator):
    """Naive-Bayes features (Wang & Manning 2012, NBSVM): each term's presence scaled by
    its log-count ratio, log((p / |p|) / (q / |q|)) with p and q the smoothed counts of
    training texts that hold the term in one class and in the other. A term that marks a
    class gets a large weight before the linear model sees it, which is what lets a
    linear model on word 1-3-grams beat TF-IDF on sentiment.

    With more than two classes, each class gets its own ratios (that class against the
    rest) and its own block of features, side by side.
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha  # added to every count (Laplace smoothing)

    def fit(self, features, labels) -> NaiveBayesScaler:
        present = (features > 0).astype(np.float32).tocsr()
        labels = np.asarray(labels)
        classes = np.unique(labels)
        # Two classes need one ratio (the second against the first); more need one each.
        marked = classes[1:] if len(classes) == 2 else classes
        ratios = [self._log_count_ratio(present, labels == name) for name in marked]
        self.ratios_ = np.vstack(ratios).astype(np.float32)
        return self

    def _log_count_ratio(self, present, in_class: np.ndarray) -> np.ndarray:
        inside = self.alpha + np.asarray(present[in_class].sum(axis=0)).ravel()
        outside = self.alpha + np.asarray(present[~in_class].sum(axis=0)).ravel()
        return np.log(inside / inside.sum()) - np.log(outside / outside.sum())

    def transform(self, features):
        import scipy.sparse as sparse

        present = (features > 0).astype(np.float32)
        blocks = [present @ sparse.diags(ratios) for ratios in self.ratios_]
        return sparse.hstack(blocks, format="csr")


class PresenceVectorizer(CountVectorizer):
    """`CountVectorizer(binary=True)`: the same vocabulary (terms in at least `min_df`
    training texts, the `max_features` most frequent; ties go to the term that sorts
    first) and the same 0/1 matrix, in two thirds of the time or less. Each text's
    n-grams are made and looked up as one set, in C, where scikit-learn loops over every
    n-gram in Python; on IMDB's word 1-3-grams that loop is most of a run."""

    def build_analyzer(self):
        """raw text -> its words and word n-grams, as scikit-learn's word analyzer gives
        them (the same terms; their order does not matter here)."""
        preprocess, tokenize = self.build_preprocessor(), self.build_tokenizer()
        stop_words = self.get_stop_words()
        low, high = self.ngram_range

        def analyze(text: str) -> list[str]:
            words = tokenize(preprocess(self.decode(text)))
            if stop_words:
                words = [word for word in words if word not in stop_words]
            terms = list(words) if low == 1 else []
            for n in range(max(low, 2), high + 1):
                # Each word with the n-1 after it; zip stops at the shortest, the last.
                shifted = (words[start:] for start in range(n))
                terms += map(" ".join, zip(*shifted, strict=False))
            return terms

        return analyze

    def fit_transform(self, raw_documents, y=None):
        analyze = self.build_analyzer()
        provisional: dict[str, int] = {}  # term -> a number of its own, with gaps
        numbers = itertools.count()
        indices, indptr = array("q"), array("q", [0])
        for text in raw_documents:
            indices.extend(map(provisional.setdefault, set(analyze(text)), numbers))
            indptr.append(len(indices))
        numbered = np.frombuffer(indices, dtype=np.int64)
        texts_with = np.bincount(numbered, minlength=next(numbers))
        terms = self._kept_terms(provisional, texts_with)
        self.vocabulary_ = {term: column for column, term in enumerate(terms)}
        self.fixed_vocabulary_ = False
        column_of = np.full(len(texts_with), -1, dtype=np.int64)
        column_of[[provisional[term] for term in terms]] = np.arange(len(terms))
        return self._presence(column_of[numbered], np.frombuffer(indptr, dtype=np.int64))

    def _kept_terms(self, provisional: dict[str, int], texts_with: np.ndarray) -> list[str]:
        """The vocabulary's terms, sorted as scikit-learn sorts them."""
        counts = texts_with[np.fromiter(provisional.values(), np.int64, len(provisional))]
        frequent = counts >= self.min_df
        terms = list(itertools.compress(provisional, frequent))
        if self.max_features is not None and len(terms) > self.max_features:
            by_frequency = sorted(zip(-counts[frequent], terms, strict=True))
            terms = [term for _, term in by_frequency[: self.max_features]]
        return sorted(terms)

    def transform(self, raw_documents):
        """The 0/1 matrix of `raw_documents`; many texts on a machine with two cores or
        more are split between this process and a forked one (a test split of IMDB's
        25,000 reviews takes half the time)."""
        texts = list(raw_documents)
        if len(texts) < PARALLEL_TEXTS or not _can_fork_a_worker():
            return self._presence(*self._columns(texts))
        middle = len(texts) // 2
        with _in_forked_worker(self._columns, texts[middle:]) as second_half:
            first_columns, first_indptr = self._columns(texts[:middle])
            second_columns, second_indptr = second_half.result()
        columns = np.concatenate([first_columns, second_columns])
        indptr = np.concatenate([first_indptr, second_indptr[1:] + len(first_columns)])
        return self._presence(columns, indptr)

    def _columns(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary's columns of the terms in each text, one run of them after
        another, and where each text's run starts (CSR's indices and indptr)."""
        analyze, column_of = self.build_analyzer(), self.vocabulary_.get
        indices, indptr = array("q"), array("q", [0])
        for text in texts:
            columns = set(map(column_of, analyze(text)))
            columns.discard(None)  # terms outside the vocabulary
            indices.extend(columns)
            indptr.append(len(indices))
        return np.frombuffer(indices, dtype=np.int64), np.frombuffer(indptr, dtype=np.int64)

    def _presence(self, columns: np.ndarray, indptr: np.ndarray):
        """The 0/1 matrix of texts by terms; `columns` -1 marks a term left out."""
        import scipy.sparse as sparse

        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        kept = columns >= 0
        ones = np.ones(int(kept.sum()), dtype=self.dtype)
        shape = (len(indptr) - 1, len(self.vocabulary_))
        matrix = sparse.csr_matrix((ones, (rows[kept], columns[kept])), shape=shape)
        matrix.sort_indices()
        return matrix


# Below this many texts a second process costs more than it saves.
PARALLEL_TEXTS = 4000
_FORKED_WORK = None  # (function, argument) that a forked worker runs, inherited by fork


def _can_fork_a_worker() -> bool:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return cores >= 2 and hasattr(os, "fork")


@contextmanager
def _in_forked_worker(function, argument) -> Iterator[Future]:
    """`function(argument)` in a forked process, as a future. Fork hands the worker the
    fitted vocabulary and the texts in memory, where pickling them would cost seconds;
    the worker runs Python and NumPy only, and sends back two arrays."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _FORKED_WORK
    _FORKED_WORK = (function, argument)
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            future = pool.submit(_run_forked_work)  # forks the worker, which has the work
            _FORKED_WORK = None
            yield future
    finally:
        _FORKED_WORK = None


def _run_forked_work():
    function, argument = _FORKED_WORK
    return function(argument)
