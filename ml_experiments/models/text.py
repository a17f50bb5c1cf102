"""Text classifiers as scikit-learn pipelines: clean -> bag of words or TF-IDF -> linear model.

The whole pipeline is the model: a saved one holds its cleaning rules and its fitted
vocabulary, so it predicts on raw strings.
"""

from __future__ import annotations

import numpy as np

from ml_experiments.data import DatasetMeta
from ml_experiments.data.cleaning import TextCleaner
from ml_experiments.models.sklearn_models import regularization

# Saved pipelines refer to the cleaner by this module's path: keep it importable here.
__all__ = ["TextCleaner", "text_classifier"]


def text_classifier(
    meta: DatasetMeta,
    vectorizer: str,
    ngram_max: int,
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
    """`vectorizer`: tfidf or count; `classifier`: logreg or linear_svm; `C` null: the
    value of `C_grid` that does best on the validation split."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    del meta  # the vocabulary and the classes come from the training split
    options = {
        "preprocessor": TextCleaner(**preprocess),
        "ngram_range": (1, ngram_max),
        "min_df": min_df,
        "max_features": max_features,
        "stop_words": stop_words,
        "dtype": np.float32,
    }
    words = (
        TfidfVectorizer(sublinear_tf=sublinear_tf, **options)
        if vectorizer == "tfidf"
        else CountVectorizer(**options)
    )
    linear = {"C": regularization(C, C_grid), "class_weight": class_weight, "max_iter": max_iter}
    model = LogisticRegression(**linear) if classifier == "logreg" else LinearSVC(**linear)
    return Pipeline([("words", words), ("classifier", model)])
