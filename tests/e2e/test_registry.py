"""The MLflow model registry from the command line: a run registered by name, a sweep's
best run as the `champion`, and both loaded back by `models:/...` in evaluate."""

from __future__ import annotations

import pytest

from tests.helpers.running import run_module

QUICK = ["debug=fast", "logger.log_model=true"]


def test_a_sweep_registers_its_best_run_as_the_champion(store, shared_data, tmp_path):
    run_module("train", ["-m", "name=registry_sweep", "seed=1,2", *QUICK,
                         "logger.register_best=true", "logger.register_as=digits_best"],
               store, shared_data, tmp_path)  # fmt: skip
    client = store.client()
    parent = next(run for run in store.runs("registry_sweep") if "sweep_dir" in run.data.tags)
    champion = client.get_model_version_by_alias("digits_best", "champion")
    assert champion.run_id == parent.data.tags["best_run_id"]
    assert parent.data.tags["champion"] == f"digits_best/{champion.version}"
    assert len(client.search_model_versions("name='digits_best'")) == 1  # only the best

    evaluated = run_module("evaluate", ["model=models:/digits_best@champion"], store,
                           shared_data, tmp_path).output  # fmt: skip
    accuracy = float(evaluated.split("test/acc")[1].split()[0])
    best = client.get_run(champion.run_id)
    assert accuracy == pytest.approx(best.data.metrics["test/acc"], abs=1e-4)


def test_a_run_registered_by_name_loads_by_version_and_a_wrong_name_is_clear(
    train, store, shared_data, tmp_path
):
    train("name=registry_single", *QUICK, "logger.register_as=digits_single")
    run = store.only_run("registry_single")
    version = store.client().get_model_version("digits_single", "1")
    assert version.run_id == run.info.run_id
    result = run_module("evaluate", ["model=models:/digits_single/1", "split=val"], store,
                        shared_data, tmp_path)  # fmt: skip
    assert "val/acc" in result.output
    missing = run_module("evaluate", ["model=models:/digits_singel@champion"], store,
                         shared_data, tmp_path, expect_success=False)  # fmt: skip
    assert missing.returncode == 1 and "Traceback" not in missing.output
    assert "no registered model version models:/digits_singel@champion" in missing.output
