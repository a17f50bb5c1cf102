"""A misspelled key or group option gets "did you mean" from the schema's keys or the
group's options; every other error keeps Hydra's report."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra._internal import utils as hydra_utils
from hydra.errors import ConfigCompositionException

from ml_experiments.config import register_configs
from ml_experiments.config.suggestions import (
    closest_match,
    misspelling_message,
    report_misspellings,
)
from tests.helpers.running import PROJECT_ROOT

CONF = PROJECT_ROOT / "conf"
GROUPS = ["dataset", "debug", "experiment", "hparams_search", "hydra", "model", "schemas"]

register_configs()


def composition_error(*overrides: str) -> ConfigCompositionException:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        with pytest.raises(ConfigCompositionException) as raised:
            compose("config", overrides=list(overrides))
    return raised.value


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["dataset=text_csv", "dataset.text_column=text"],
            "dataset has no key 'text_column'. Did you mean dataset.text_columns?",
        ),
        (["sed=1"], "the config has no key 'sed'. Did you mean seed?"),
        (
            ["experimnt=boston_linear"],
            "the config has no key 'experimnt'. Did you mean experiment?",
        ),
        (
            ["trainer.max_epoch=3"],
            "trainer has no key 'max_epoch'. Did you mean trainer.max_epochs?",
        ),
        (
            ["trainer.early_stoping.patience=3"],
            "trainer has no key 'early_stoping'. Did you mean trainer.early_stopping?",
        ),
        (
            ["trainer.early_stopping.patiense=3"],
            "trainer.early_stopping has no key 'patiense'. "
            "Did you mean trainer.early_stopping.patience?",
        ),
        (
            ["optimizer.learning_rate=0.1"],
            "optimizer has no key 'learning_rate'. Did you mean optimizer.lr?",
        ),
        (["dataset=mnsit"], "dataset has no option 'mnsit'. Did you mean dataset=mnist?"),
        (["model=resnet"], "model has no option 'resnet'. Did you mean model=resnet18?"),
    ],
)
def test_a_misspelling_gets_the_closest_key_or_option(overrides, message):
    assert misspelling_message(composition_error(*overrides), GROUPS) == message


def test_a_key_of_another_option_lists_the_keys_of_the_chosen_schema():
    message = misspelling_message(composition_error("dataset.text_columns=[a]"), GROUPS)
    assert message == (
        "dataset has no key 'text_columns'; the keys of dataset (DigitsDatasetConfig) are "
        "_target_, name, test_fraction, val_fraction"
    )


def test_a_top_level_key_with_no_close_match_lists_keys_and_groups_but_not_hydra():
    message = misspelling_message(composition_error("zzz=1"), GROUPS)
    assert message.startswith("the config has no key 'zzz'; its keys are dataset, debug, device")
    assert "experiment" in message and "seed" in message
    assert "hydra" not in message and "schemas" not in message


def test_an_option_with_no_close_match_lists_the_options():
    message = misspelling_message(composition_error("optimizer=zzz"), GROUPS)
    assert message == "optimizer has no option 'zzz'; its options are adam, adamw, sgd"


@pytest.mark.parametrize(
    "overrides",
    [
        ["hydra.job.nme=x"],  # Hydra's own config keeps Hydra's message
        ["trainer.max_epochs=abc"],  # a wrong type, not a misspelling
        ["~sed"],
    ],
)
def test_other_errors_get_no_suggestion(overrides):
    assert misspelling_message(composition_error(*overrides), GROUPS) is None


@pytest.mark.parametrize(
    ("wrong", "expected"),
    [
        ("text_column", "text_columns"),  # one best guess, not label_column too
        ("learning_rate", "lr"),  # the initials of its words
        ("wd", "weight_decay"),  # the initials of the candidate's words
        ("zzz", None),
    ],
)
def test_closest_match(wrong, expected):
    candidates = ["text_columns", "label_column", "lr", "weight_decay"]
    assert closest_match(wrong, candidates) == expected


@pytest.fixture
def reported(monkeypatch):
    """Hydra's run_and_report with misspellings reported; Hydra's own again afterwards."""
    monkeypatch.setattr(hydra_utils, "run_and_report", hydra_utils.run_and_report)
    report_misspellings()
    return hydra_utils.run_and_report


def raising(error: Exception):
    def run():
        raise error

    return run


def test_a_misspelling_exits_1_with_one_line(reported):
    error = composition_error("sed=1")
    with pytest.raises(SystemExit) as exited:
        reported(raising(error))
    assert str(exited.value.code) == "error: the config has no key 'sed'. Did you mean seed?"


def test_other_errors_and_results_pass_through_to_hydra(reported, capsys):
    assert reported(lambda: 42) == 42
    with pytest.raises(SystemExit) as exited:
        reported(raising(composition_error("trainer.max_epochs=abc")))
    assert exited.value.code == 1
    assert "could not be converted to Integer" in capsys.readouterr().err
