"""A fitted scikit-learn model saved as arrays and JSON, and loaded back without pickle.

Pickle (and cloudpickle, and joblib) runs whatever code the file names, so a model file
from someone else is a program. Here only the fitted attributes are saved: arrays in an
`.npz` read with `allow_pickle=False`, and numbers, strings and vocabularies in JSON.
Loading rebuilds the unfitted estimator from its config through the model factory and
sets those attributes on it, so nothing in the files can choose what runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

ARRAYS_FILE = "fitted.npz"
VALUES_FILE = "fitted.json"

# Fitted values that are properties rather than attributes, set after the attributes
# (TfidfVectorizer's idf_ setter needs vocabulary_ in place).
FITTED_PROPERTIES = {"TfidfVectorizer": ("idf_",)}


class FittedStateError(ValueError):
    """The files do not hold the fitted state of the estimator they are loaded into."""


def save(estimator, folder: Path) -> None:
    """Write `estimator`'s fitted attributes to `folder` (fitted.npz and fitted.json)."""
    arrays: dict[str, np.ndarray] = {}
    values: dict[str, Any] = {}
    for step, part in _parts(estimator):
        values[step] = {"class": type(part).__name__, "attributes": {}}
        for name, value in _fitted_attributes(part).items():
            key = f"{step}/{name}"
            if isinstance(value, np.ndarray | np.generic):
                arrays[key], kind = _storable_array(value, key)
                values[step]["attributes"][name] = {"array": kind}
            else:
                values[step]["attributes"][name] = {"value": _json_value(value, key)}
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / ARRAYS_FILE, **arrays)
    (folder / VALUES_FILE).write_text(json.dumps(values))


def load_into(estimator, folder: Path):
    """Set the fitted attributes saved in `folder` on `estimator`, built unfitted from the
    same config; return it."""
    values = json.loads((folder / VALUES_FILE).read_text())
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
        for step, part in _parts(estimator):
            saved = values.get(step)
            if saved is None or saved["class"] != type(part).__name__:
                raise FittedStateError(
                    f"the saved model has no {type(part).__name__} at step '{step}': it was "
                    "fitted with another model config"
                )
            for name, entry in saved["attributes"].items():
                setattr(part, name, _restored(entry, arrays, f"{step}/{name}"))
    return estimator


def _parts(estimator) -> list[tuple[str, Any]]:
    """(name, estimator) for each step of a Pipeline, or ("model", estimator) alone; a step
    made of one vectorizer per field (`FieldsVectorizer`) is followed by each of them, as
    ("<step>/<field>", vectorizer)."""
    steps = getattr(estimator, "named_steps", None)
    if steps is None:
        return [("model", estimator)]
    parts = []
    for name, step in steps.items():
        parts.append((name, step))
        inner = getattr(step, "vectorizers", {})
        parts += [(f"{name}/{field}", vectorizer) for field, vectorizer in inner.items()]
    return parts


def _fitted_attributes(part) -> dict[str, Any]:
    """scikit-learn's convention: public attributes ending in `_` are set by fit."""
    names = [name for name in vars(part) if name.endswith("_") and not name.startswith("_")]
    names += FITTED_PROPERTIES.get(type(part).__name__, ())
    return {name: getattr(part, name) for name in names}


def _storable_array(value: np.ndarray | np.generic, key: str) -> tuple[np.ndarray, str]:
    """The array as .npz stores it without pickle, and how to restore its kind."""
    array = np.asarray(value)
    if array.dtype == object:  # class names: stored as unicode, restored as objects
        if not all(isinstance(item, str) for item in array.flat):
            raise FittedStateError(f"{key} holds objects other than strings")
        return array.astype(str), "strings"
    return array, "scalar" if isinstance(value, np.generic) else "array"


def _json_value(value: Any, key: str) -> Any:
    """Plain values, and dicts of them (a vocabulary: term -> column)."""
    if isinstance(value, dict):
        if all(isinstance(item, int | np.integer) for item in value.values()):
            return {str(term): int(item) for term, item in value.items()}  # a vocabulary: fast
        return {str(term): _json_value(item, key) for term, item in value.items()}
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise FittedStateError(f"{key} is a {type(value).__name__}, which cannot be saved safely")


def _restored(entry: dict, arrays, key: str) -> Any:
    if "value" in entry:
        return entry["value"]
    array = arrays[key]
    if entry["array"] == "strings":
        return array.astype(object)
    return array[()] if entry["array"] == "scalar" else array
