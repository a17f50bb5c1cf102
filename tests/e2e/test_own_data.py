"""The example of docs/own_data_and_models.md runs: a data set and a model of a user's
own, named in YAML files outside conf/ and found through Hydra's search path."""

from __future__ import annotations

EXAMPLE_CONFIGS = "hydra.searchpath=[file://docs/examples/conf]"


def test_a_users_own_data_set_and_model_train_through_the_entry_point(train, store):
    train(
        EXAMPLE_CONFIGS,
        "dataset=rings",
        "model=ring_net",
        "optimizer.lr=0.01",
        "name=own_rings",
    )
    run = store.only_run("own_rings")
    assert run.info.status == "FINISHED"
    assert run.data.params["data/train_rows"] == "700"
    assert run.data.metrics["test/acc"] >= 0.9  # two rings, one hidden layer
    assert run.data.params["model._target_"] == "docs.examples.rings.RingNet"
