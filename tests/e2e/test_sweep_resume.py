"""A grid sweep stopped part-way and run again in the same folder continues: the same
parent run, finished jobs skipped, the rest trained, no job finished twice."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

from tests.helpers.running import run_module, start_training, sweep_runs

JOBS = 6


def sweep(folder) -> list[str]:
    return [
        "-m",
        "experiment=boston_linear",
        "name=resumed_sweep",
        "optimizer.lr=0.01,0.03,0.1",
        "optimizer.momentum=0.0,0.9",
        "trainer.max_epochs=300",
        "trainer.early_stopping.enabled=false",  # every job takes a few seconds
        "logger.log_model=false",
        "logger.log_figures=false",
        f"hydra.sweep.dir={folder}",
    ]


def finished_children(store) -> int:
    if store.client().get_experiment_by_name("resumed_sweep") is None:
        return 0
    return sum(run.info.status == "FINISHED" for run in store.runs("resumed_sweep"))


def test_a_stopped_sweep_run_again_skips_its_finished_jobs(store, shared_data, tmp_path):
    folder = tmp_path / "sweep"
    process = start_training(sweep(folder), store, shared_data, tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240
    while finished_children(store) < 3 and process.poll() is None:
        assert time.monotonic() < deadline, "the sweep did not finish 3 jobs in time"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    parent, children = sweep_runs(store, "resumed_sweep")
    first_time = sum(run.info.status == "FINISHED" for run in children)
    assert parent.info.status == "FAILED" and 3 <= first_time < JOBS

    result = run_module("train", sweep(folder), store, shared_data, tmp_path)
    again, children = sweep_runs(store, "resumed_sweep")
    assert again.info.run_id == parent.info.run_id and again.info.status == "FINISHED"
    finished = [run for run in children if run.info.status == "FINISHED"]
    by_job = Counter(run.data.tags["overrides"] for run in finished)
    assert len(by_job) == JOBS and set(by_job.values()) == {1}  # each job finished once
    assert result.output.count("already finished in run") == first_time
    assert again.data.metrics["jobs_finished"] == JOBS
    assert again.data.metrics["jobs_not_finished"] == 0
