"""A sweep through submitit's local executor (`hydra/launcher=submitit_local`): each job
a separate process started by submitit, as on a SLURM cluster, with no SLURM."""

from __future__ import annotations

import pytest

from tests.helpers.running import run_module, sweep_runs

pytestmark = pytest.mark.slow


def test_submitit_local_runs_every_job_as_a_child_of_the_one_parent(store, shared_data, tmp_path):
    result = run_module(
        "train",
        [
            "-m",
            "experiment=boston_linear",
            "name=submitit_sweep",
            "seed=0,1",
            "hydra/launcher=submitit_local",
            "trainer.max_epochs=3",
            "logger.log_model=false",
            "logger.log_figures=false",
        ],
        store,
        shared_data,
        tmp_path,
        timeout=600,
    )
    assert "Submitit 'local' sweep output dir" in result.output
    parent, children = sweep_runs(store, "submitit_sweep")
    assert [child.data.params["seed"] for child in children] == ["0", "1"]
    assert [child.info.status for child in children] == ["FINISHED", "FINISHED"]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["launcher"] == "LocalLauncher"
    assert parent.data.metrics["jobs_finished"] == 2
    # submitit kept each job's files (its pickled result, its log) in the sweep folder.
    sweep_folder = next((tmp_path / "outputs" / "multiruns").iterdir())
    assert len(list(sweep_folder.glob(".submitit/*/*_result.pkl"))) == 2
