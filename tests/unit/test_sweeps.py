"""A multirun over experiments lets group overrides through Hydra's first composition."""

from __future__ import annotations

from ml_experiments.sweeps import force_group_overrides

COMMAND = ["train.py", "-m", "experiment=mnist_cnn,fashion_cnn"]


def test_group_keys_are_forced_only_in_a_sweep_over_experiments_or_groups():
    forced = force_group_overrides([*COMMAND, "dataset.train_subset=500", "trainer.max_epochs=1"])
    assert forced[3:] == ["++dataset.train_subset=500", "trainer.max_epochs=1"]
    over_models = ["train.py", "--multirun", "model=mlp,linear", "model.dropout=0.2"]
    assert force_group_overrides(over_models)[3] == "++model.dropout=0.2"
    single = ["train.py", "experiment=mnist_cnn", "dataset.train_subset=500"]
    assert force_group_overrides(single) == single
    over_values = ["train.py", "-m", "optimizer.lr=0.1,0.2", "dataset.val_fraction=0.2"]
    assert force_group_overrides(over_values) == over_values


def test_swept_added_and_malformed_overrides_are_left_as_they_are():
    kept = ["dataset.val_size=10,20", "+dataset.extra=1", "~model.dropout", "dataset.x=[1", "-c"]
    assert force_group_overrides([*COMMAND, *kept])[3:] == kept


def test_a_key_still_to_be_given_counts_as_present_when_checking_forced_overrides():
    """`-m dataset=csv dataset.path=... model=linear,mlp`: csv's path is `???` in every job's
    composition before the override fills it, and it is a key all of them have."""
    from omegaconf import OmegaConf

    from ml_experiments.sweeps import _lacks

    config = OmegaConf.create({"dataset": {"path": "???", "name": "csv"}, "seed": 1})
    assert not _lacks(config, "dataset.path") and not _lacks(config, "seed")
    assert _lacks(config, "dataset.text_columns") and _lacks(config, "model.dropout")
