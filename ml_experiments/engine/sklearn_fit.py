"""The scikit-learn path: fit an estimator on the same splits, score it the same way.

A hyperparameter of the estimator's final step that holds `Candidates` is chosen here:
one fit per candidate on the training split, the best macro-F1 on the validation split
kept. The test split is scored once, by the kept model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ml_experiments.config.schemas import Task
from ml_experiments.data import DataBundle, TensorSplit
from ml_experiments.data.text import TextSplit
from ml_experiments.engine.metrics import compute_metrics
from ml_experiments.models.protocols import ReadsFields


class Candidates(tuple):
    """Values of a hyperparameter for `fit_and_test` to choose among: a model builder
    sets it in place of one value, e.g. `LogisticRegression(C=Candidates((0.1, 1.0)))`."""


@dataclass
class SklearnResult:
    estimator: object
    metrics: dict[str, float]  # train/loss, val/*, test/*; search/<name>_<value>/val/*
    test_outputs: torch.Tensor
    params: dict[str, float] = field(default_factory=dict)  # chosen values: model.<name>_chosen


@dataclass
class _Search:
    name: str  # the hyperparameter of the estimator's final step
    chosen: float
    model: object  # the final step, fitted with the chosen value
    val_metrics: dict[float, dict[str, float]]  # candidate -> its validation metrics

    def logged_metrics(self) -> dict[str, float]:
        return {
            f"search/{self.name}_{value:g}/val/{key}": score
            for value, metrics in self.val_metrics.items()
            for key, score in metrics.items()
        }


def fit_and_test(estimator, data: DataBundle) -> SklearnResult:
    """Fit `estimator` on the training split and score it on every split. The fitted
    model is the result's `estimator`: after a search, a plain estimator is replaced by
    the chosen one (a Pipeline keeps its identity, with the chosen final step).

    The steps before the final one (a vectorizer) are fitted once and each split goes
    through them once: on IMDB's word 1-3-grams that is most of the run's time."""
    train_inputs, val_inputs = _final_step_inputs(estimator, data)
    searched = _searched(estimator)
    if searched is None:
        final = _final_step(estimator).fit(train_inputs, _targets(data, data.train))
        search = None
    else:
        search = _choose_on_validation(estimator, train_inputs, val_inputs, data, *searched)
        final = search.model
    estimator = _with_final_step(estimator, final)
    train_metrics, _ = _score(final, train_inputs, data, data.train)
    val_metrics, _ = _score(final, val_inputs, data, data.val)
    test_inputs = features(data, data.test, estimator)
    test_metrics, test_outputs = _score(estimator, test_inputs, data, data.test)
    metrics = {"train/loss": train_metrics["loss"]}
    metrics |= {f"val/{key}": value for key, value in val_metrics.items()}
    metrics |= {f"test/{key}": value for key, value in test_metrics.items()}
    result = SklearnResult(estimator, metrics, test_outputs)
    if search is not None:
        result.metrics |= search.logged_metrics()
        result.params[f"model.{search.name}_chosen"] = search.chosen
    return result


def _is_pipeline(estimator) -> bool:
    return hasattr(estimator, "steps")


def _final_step(estimator):
    return estimator.steps[-1][1] if _is_pipeline(estimator) else estimator


def _with_final_step(estimator, model):
    """`estimator` with `model` as its final step: the same Pipeline, or `model` alone."""
    if not _is_pipeline(estimator):
        return model
    return estimator.set_params(**{estimator.steps[-1][0]: model})


def _searched(estimator) -> tuple[str, Candidates] | None:
    """The final step's hyperparameter that holds `Candidates`, if one does."""
    params = _final_step(estimator).get_params(deep=False).items()
    searched = [(name, value) for name, value in params if isinstance(value, Candidates)]
    if len(searched) > 1:
        raise ValueError(f"one hyperparameter at a time can be searched, not {searched}")
    return searched[0] if searched else None


def _choose_on_validation(
    estimator, train_inputs, val_inputs, data: DataBundle, name: str, candidates: Candidates
) -> _Search:
    """Fit the final step once per candidate on the inputs it receives (the steps before
    it already applied) and keep the best on the validation split."""
    from sklearn.base import clone

    train_targets = _targets(data, data.train)
    fitted, val_metrics = {}, {}
    for value in candidates:
        model = clone(_final_step(estimator)).set_params(**{name: value})
        fitted[value] = model.fit(train_inputs, train_targets)
        val_metrics[value], _ = _score(model, val_inputs, data, data.val)
    chosen = max(candidates, key=lambda value: _selection_key(val_metrics[value]))
    return _Search(name, chosen, fitted[chosen], val_metrics)


def _final_step_inputs(estimator, data: DataBundle) -> tuple:
    """The training and validation inputs as the final step receives them; the steps
    before it are fitted on the training split here."""
    train_inputs = features(data, data.train, estimator)
    val_inputs = features(data, data.val, estimator)
    if not _is_pipeline(estimator):
        return train_inputs, val_inputs
    before_final = estimator[:-1]  # shares its steps with `estimator`, which stay fitted
    train_inputs = before_final.fit_transform(train_inputs, _targets(data, data.train))
    return train_inputs, before_final.transform(val_inputs)


def _selection_key(val_metrics: dict[str, float]) -> tuple[float, float]:
    """Macro-F1 first: a model that answers the majority class for everything, what too
    strong a regularisation gives on few long documents, scores at most 0.5 on it while
    its accuracy looks fine. It is defined by the predictions alone, so it compares a
    linear SVM's candidates as well. Ties (likely on a small validation split) go to the
    lower validation loss, the runs' default objective."""
    return val_metrics["f1_macro"], -val_metrics["loss"]


def features(data: DataBundle, split: TensorSplit | TextSplit, estimator):
    """A split as `estimator` wants it: the raw texts (each field apart, as a DataFrame, for
    a model that reads fields), or a 2-D float array (images are flattened)."""
    if isinstance(split, TextSplit):
        return split.fields if isinstance(estimator, ReadsFields) else split.texts
    return data.prepare_batch(split.x, False).flatten(1).numpy()


def _targets(data: DataBundle, split: TensorSplit | TextSplit) -> np.ndarray:
    """Class names for a classifier, so the fitted model's own `predict` (as MLflow serves
    it) answers with labels; numbers for a regressor."""
    if data.meta.task != Task.classification:
        return split.y.numpy()
    return np.asarray(data.meta.class_names, dtype=object)[split.y.numpy()]


def model_outputs(estimator, data: DataBundle, split: TensorSplit | TextSplit) -> torch.Tensor:
    """Predictions for regression; log-probabilities (the metrics' logits) for classification."""
    return _outputs(estimator, features(data, split, estimator), data)


def _outputs(estimator, inputs, data: DataBundle) -> torch.Tensor:
    if data.meta.task != Task.classification:
        return torch.tensor(estimator.predict(inputs), dtype=torch.float32)
    return class_log_probabilities(estimator, inputs, data.meta.class_names)


def class_log_probabilities(estimator, inputs, class_names: list[str]) -> torch.Tensor:
    """(examples, classes) log-probabilities of a fitted classifier, one column per class
    in the order of `class_names` (a class missing from the training split: none)."""
    if hasattr(estimator, "predict_proba"):
        probabilities = np.clip(estimator.predict_proba(inputs), 1e-12, 1.0)
        scores = torch.tensor(np.log(probabilities), dtype=torch.float32)
    else:
        # A linear SVM has margins, not probabilities: their log-softmax ranks the same way.
        margins = torch.tensor(estimator.decision_function(inputs), dtype=torch.float32)
        if margins.ndim == 1:  # binary: one margin, positive for the second class
            margins = torch.stack([-margins / 2, margins / 2], dim=1)
        scores = torch.log_softmax(margins, dim=1)
    return _in_class_order(scores, list(estimator.classes_), class_names)


def _in_class_order(scores: torch.Tensor, fitted: list, class_names: list[str]) -> torch.Tensor:
    """Columns rearranged from the estimator's `classes_` (sorted names, or the class
    indices of models fitted before labels were names) to `class_names`' order."""
    ordered = torch.full((len(scores), len(class_names)), np.log(1e-12), dtype=scores.dtype)
    for index, name in enumerate(class_names):
        for label in (name, index):
            if label in fitted:
                ordered[:, index] = scores[:, fitted.index(label)]
                break
    return ordered


def _score(
    estimator, inputs, data: DataBundle, split: TensorSplit | TextSplit
) -> tuple[dict[str, float], torch.Tensor]:
    """The metrics of `estimator` (a whole pipeline, or its final step) on `inputs`, the
    split as it receives them, and its outputs."""
    outputs = _outputs(estimator, inputs, data)
    return compute_metrics(data.meta.task, outputs, split.y), outputs
