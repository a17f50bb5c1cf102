"""The model that reads a record's fields apart (liar_meta): each field's features by
name, rare values left out, saved without pickle and loaded back to the same answers,
and a clear error for data that does not keep the fields it reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from ml_experiments.config.schemas import FieldsLinearModelConfig, Modality, Task
from ml_experiments.data import DataBundle, DatasetMeta
from ml_experiments.data.text import TextSplit
from ml_experiments.engine.sklearn_fit import fit_and_test
from ml_experiments.errors import ConfigError, DataError
from ml_experiments.models import fitted_state
from ml_experiments.models.factory import build_for_data, build_model
from ml_experiments.models.protocols import ReadsFields
from tests.helpers.data_files import text_bundle

META = DatasetMeta(
    name="claims",
    task=Task.classification,
    input_shape=(),
    class_names=["false", "true"],
    modality=Modality.text,
)
# The party alone tells the class: each statement, subject and context comes with either
# class as often, so only a model that reads the party gets every row right.
ROWS = pd.DataFrame(
    {
        "statement": ["taxes went up", "jobs were lost", "prices rose"] * 8,
        "party": ["red", "blue"] * 12,
        "subject": ["taxes,economy", "Economy, jobs", "prices"] * 8,
        "context": ["a speech", "a tweet", "an interview"] * 8,
    }
)
LABELS = torch.tensor([0, 1] * 12)


def node(**changes):
    config = OmegaConf.structured(FieldsLinearModelConfig)
    config.merge_with(
        {"categories": ["party"], "lists": ["subject"], "phrases": ["context"], "C": 10.0}
    )
    config.merge_with(changes)
    return config


def bundle(fields: pd.DataFrame | None = ROWS) -> DataBundle:
    def split():
        texts = ROWS.apply("\n".join, axis=1).to_numpy(dtype=object)
        return TextSplit(texts, LABELS, fields)

    return DataBundle(split(), split(), split(), META)


def test_each_field_is_read_apart_and_decides_when_the_text_cannot():
    data, model = build_for_data(node(), bundle())
    assert isinstance(model, ReadsFields)
    assert model.field_names == ["statement", "party", "subject", "context"]
    result = fit_and_test(model, data)
    assert result.metrics["test/acc"] == 1.0
    vectorizers = model.named_steps["fields"].vectorizers
    assert sorted(vectorizers["subject"].vocabulary_) == ["economy", "jobs", "prices", "taxes"]
    assert sorted(vectorizers["party"].vocabulary_) == ["blue", "red"]


def test_a_value_seen_in_fewer_training_rows_than_min_count_has_no_column():
    rows = ROWS.assign(party=["red"] * 23 + ["green"])
    data, model = build_for_data(node(min_count=2), bundle(rows))
    fit_and_test(model, data)
    assert sorted(model.named_steps["fields"].vectorizers["party"].vocabulary_) == ["red"]
    # An unknown value at prediction gives no feature rather than an error.
    unseen = rows.head(2).assign(party=["purple", ""])
    assert model.predict(unseen).shape == (2,)


def test_saved_without_pickle_and_loaded_into_a_fresh_model_it_answers_the_same(tmp_path):
    data, model = build_for_data(node(), bundle())
    fit_and_test(model, data)
    fitted_state.save(model, tmp_path)
    assert {"fields/statement", "fields/party", "classifier"} <= _saved_parts(tmp_path)
    loaded = fitted_state.load_into(build_model(node(), META), tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(ROWS), model.predict_proba(ROWS))


def _saved_parts(folder) -> set[str]:
    import json

    return set(json.loads((folder / fitted_state.VALUES_FILE).read_text()))


def test_data_with_one_text_per_example_is_refused_naming_the_fix():
    with pytest.raises(ConfigError, match=r"dataset=toy has one text per example"):
        build_for_data(node(), text_bundle(["a b", "c d"], ["a b"], ["c d"]))


def test_a_field_the_data_does_not_keep_is_named():
    with pytest.raises(ConfigError, match=r"reads fields \['speaker'\].*holds \['statement',"):
        build_for_data(node(categories=["speaker"]), bundle())


@pytest.mark.parametrize(
    "context", [[""] * 24, [f"place{i}" for i in range(24)]], ids=["empty", "all different"]
)
def test_a_field_with_no_value_in_enough_rows_is_named(context):
    data, model = build_for_data(node(), bundle(ROWS.assign(context=context)))
    with pytest.raises(DataError, match="field 'context' has no term or value in at least 2"):
        fit_and_test(model, data)


def test_a_missing_column_is_named_with_the_fields_the_model_reads():
    data, model = build_for_data(node(), bundle())
    fit_and_test(model, data)
    with pytest.raises(DataError, match=r"the input has no column \['party'\]"):
        model.predict(ROWS.drop(columns="party"))


def test_a_field_given_two_kinds_is_named():
    with pytest.raises(ConfigError, match=r"names the fields \['party'\] more than once"):
        build_for_data(node(phrases=["context", "party"]), bundle())
