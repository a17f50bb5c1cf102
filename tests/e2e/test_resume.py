"""A run killed with SIGKILL and resumed ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import signal
import subprocess

import pytest
import torch

from tests.helpers.running import start_training

from .test_failures import wait_for_checkpoint

EPOCHS = 60


SETTINGS = [f"trainer.max_epochs={EPOCHS}", "trainer.early_stopping.enabled=false", "seed=3"]


COMPARED = ("train/loss", "val/loss", "val/acc", "test/loss", "test/acc", "test/f1_macro")


@pytest.mark.slow
def test_killed_run_resumes_in_the_same_mlflow_run_with_identical_results(
    train, store, shared_data, tmp_path
):
    killed_folder = tmp_path / "killed"
    process = start_training(["name=resume_killed", *SETTINGS], store, shared_data, killed_folder,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    checkpoint_path = wait_for_checkpoint(killed_folder, process, minimum_epoch=3)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = torch.load(checkpoint_path, weights_only=True)["epoch"]
    assert 3 <= killed_at < EPOCHS
    interrupted = store.only_run("resume_killed")
    assert interrupted.info.status == "RUNNING"  # SIGKILL leaves no chance to close the run

    train("name=resume_killed", *SETTINGS, f"trainer.resume={interrupted.info.run_id}")
    resumed = store.only_run("resume_killed")  # still one run: the same one, continued
    assert resumed.info.run_id == interrupted.info.run_id
    assert resumed.info.status == "FINISHED"
    steps = {p.step for p in store.client().get_metric_history(resumed.info.run_id, "val/loss")}
    assert steps == set(range(1, EPOCHS + 1))
    logs = [item.path for item in store.client().list_artifacts(resumed.info.run_id, "logs")]
    assert len(logs) == 1 and logs[0].startswith("logs/resumed_")  # the killed part wrote none

    train("name=resume_uninterrupted", *SETTINGS)
    uninterrupted = store.only_run("resume_uninterrupted")
    for key in COMPARED:
        assert resumed.data.metrics[key] == uninterrupted.data.metrics[key], key


def test_resume_from_a_checkpoint_path(train, store):
    train("name=resume_path", "debug=fast")
    first = store.only_run("resume_path")
    last = f"{first.data.tags['checkpoint_dir']}/last.pt"
    result = train(
        "name=resume_path", "debug=fast", "trainer.max_epochs=4", f"trainer.resume={last}"
    )
    assert "resumed after epoch 2" in result.output
    run = store.only_run("resume_path")
    assert run.info.status == "FINISHED"
    steps = [p.step for p in store.client().get_metric_history(run.info.run_id, "train/loss")]
    assert steps == [1, 2, 3, 4]
