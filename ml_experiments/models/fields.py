"""A text classifier that reads each example's fields apart: the main text and the facts
beside it (LIAR's speaker, party, subjects, ...), each turned into features of its own,
side by side, then one linear model over all of them.

It takes a DataFrame with a column per field, as `TextSplit.fields` holds them and as a
user sends them to the saved model; the whole pipeline is saved, so it predicts on raw
field values.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from ml_experiments.data import DatasetMeta
from ml_experiments.data.cleaning import TextCleaner
from ml_experiments.errors import ConfigError, DataError
from ml_experiments.models.sklearn_models import regularization


class FieldsPipeline(Pipeline):
    """A Pipeline whose first step, a `FieldsVectorizer`, picks its columns by name."""

    @property
    def field_names(self) -> list[str]:
        """The fields it reads; the first is the text field."""
        return list(self.steps[0][1].vectorizers)

    @property
    def text_field(self) -> str:
        return self.field_names[0]


class FieldsVectorizer(TransformerMixin, BaseEstimator):
    """Each field (a DataFrame column of strings) through its own vectorizer, the results
    side by side, each scaled by its weight. This is what scikit-learn's ColumnTransformer
    does; its fitted state is only that of its vectorizers, so a model holding it is saved
    as arrays and JSON (`fitted_state`), where a ColumnTransformer keeps private state that
    only pickle saves. The vectorizers are fitted in place, as a Pipeline's steps are."""

    def __init__(self, vectorizers: dict, weights: dict[str, float]):
        self.vectorizers = vectorizers  # field -> an unfitted vectorizer of 1-D strings
        self.weights = weights  # field -> the factor of its features

    def fit(self, frame, labels=None) -> FieldsVectorizer:
        self.fit_transform(frame, labels)
        return self

    def fit_transform(self, frame, labels=None, **fit_params):
        self._check_columns(frame)
        blocks = {name: _fitted(step, frame, name) for name, step in self.vectorizers.items()}
        # The features of each field. Also what marks it fitted: scikit-learn's
        # check_is_fitted looks for an attribute ending in "_", and a Pipeline of this
        # step alone (how the fit of a searched C uses it) refuses to transform without.
        self.widths_ = {name: block.shape[1] for name, block in blocks.items()}
        return self._stacked(blocks)

    def transform(self, frame):
        self._check_columns(frame)
        return self._stacked(
            {name: step.transform(_column(frame, name)) for name, step in self.vectorizers.items()}
        )

    def _check_columns(self, frame) -> None:
        columns = getattr(frame, "columns", [])
        missing = [name for name in self.vectorizers if name not in columns]
        if missing:
            raise DataError(
                f"the model reads the fields {list(self.vectorizers)}; the input has no column "
                f"{missing}. Give a column per field, empty where a value is unknown"
            )

    def _stacked(self, blocks: dict):
        import scipy.sparse as sparse

        weighted = [blocks[name] * self.weights[name] for name in self.vectorizers]
        return sparse.hstack(weighted, format="csr", dtype=np.float32)


def fields_classifier(
    meta: DatasetMeta,
    text_field: str,
    categories: list[str],
    lists: list[str],
    phrases: list[str],
    field_weight: float,
    ngram_max: int,
    min_df: int,
    min_count: int,
    sublinear_tf: bool,
    C: float | None,
    C_grid: list[float],
    max_iter: int,
    preprocess: dict,
) -> FieldsPipeline:
    """TF-IDF of `text_field`'s words and word n-grams; each field of `categories` one-hot,
    values seen in fewer than `min_count` training rows left out; each field of `lists`
    (comma-separated labels) as the labels it holds; each field of `phrases` (short free
    text) as TF-IDF of its words and word pairs. Every field beside the text is weighted
    by `field_weight`. `C` null: the value of `C_grid` that does best on the validation
    split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    del meta  # the vocabularies and the classes come from the training split
    _check_one_kind_each([text_field, *categories, *lists, *phrases])
    vectorizers = {
        text_field: TfidfVectorizer(
            preprocessor=TextCleaner(**preprocess),
            ngram_range=(1, ngram_max),
            min_df=min_df,
            sublinear_tf=sublinear_tf,
            dtype=np.float32,
        )
    }
    for name in categories:
        vectorizers[name] = _labels_vectorizer(whole_value, min_count)
    for name in lists:
        vectorizers[name] = _labels_vectorizer(comma_separated, min_count)
    for name in phrases:
        vectorizers[name] = TfidfVectorizer(ngram_range=(1, 2), min_df=min_count, dtype=np.float32)
    weights = {name: 1.0 if name == text_field else field_weight for name in vectorizers}
    model = LogisticRegression(C=regularization(C, C_grid), max_iter=max_iter)
    return FieldsPipeline(
        [("fields", FieldsVectorizer(vectorizers, weights)), ("classifier", model)]
    )


def _check_one_kind_each(fields: list[str]) -> None:
    """Each field gets one vectorizer: one named twice would silently replace the first."""
    repeated = sorted({name for name in fields if fields.count(name) > 1})
    if repeated:
        raise ConfigError(
            f"model=fields_logreg names the fields {repeated} more than once (text_field, "
            "categories, lists, phrases): give each field one kind"
        )


def whole_value(value: str) -> list[str]:
    """A category as one term: ' Republican ' -> ['republican']; '' -> []."""
    value = value.strip().lower()
    return [value] if value else []


def comma_separated(value: str) -> list[str]:
    """'economy,taxes, Health care' -> ['economy', 'taxes', 'health care']."""
    return [label.strip().lower() for label in value.split(",") if label.strip()]


def _labels_vectorizer(analyzer, min_count: int):
    """0/1 columns, one for each label seen in at least `min_count` training rows."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer=analyzer, binary=True, min_df=min_count, dtype=np.float32)


def _fitted(vectorizer, frame, name: str):
    """`vectorizer` fitted on the field `name`; its features of the training rows."""
    try:
        return vectorizer.fit_transform(_column(frame, name))
    except ValueError as error:
        if not any(reason in str(error) for reason in NOTHING_LEFT):
            raise
        raise DataError(
            f"field '{name}' has no term or value in at least {vectorizer.min_df} training "
            "rows: leave it out of the model's fields, or lower model.min_df (the text "
            "field) or model.min_count (the others)"
        ) from error


# scikit-learn's words for a vectorizer left with no column: no term at all, none in
# min_df texts, or min_df above the number of texts.
NOTHING_LEFT = ("empty vocabulary", "no terms remain", "max_df corresponds to < documents")


def _column(frame, name: str) -> np.ndarray:
    return frame[name].fillna("").astype(str).to_numpy()
