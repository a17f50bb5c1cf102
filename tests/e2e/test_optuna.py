"""Optuna sweeps with a stored study: continued after a crash up to n_trials, shared by
two processes at once, pruned trials recorded in Optuna and MLflow alike, and a storage
that cannot be opened stopped before any job."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.helpers.running import run_module, start_training, sweep_runs

EPOCH_FREE = ["trainer.early_stopping.enabled=false", "logger.log_model=false",
              "logger.log_figures=false"]  # fmt: skip


def optuna_sweep(name: str, n_trials: int, epochs: int, *extra: str) -> list[str]:
    return [
        "-m",
        "experiment=boston_linear",
        "hparams_search=boston_optuna",
        f"name={name}",  # the study's name too
        f"hydra.sweeper.n_trials={n_trials}",
        f"trainer.max_epochs={epochs}",
        *EPOCH_FREE,
        *extra,
    ]


def load_study(tmp_path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path}/outputs/optuna.db")


def wait_for(condition, what: str, sweep: subprocess.Popen, log: Path, seconds: float = 240):
    """condition()'s first true value, while the sweep runs; fails, with the sweep's last
    output, when the sweep ends or the time is up first."""
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        code = sweep.poll()
        assert code is None, f"the sweep ended ({code}) before {what}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def start_sweep(command: list[str], store, shared_data, tmp_path, log_name: str):
    """The sweep started in the background, its output in tmp_path/<log_name>."""
    log = tmp_path / log_name
    with log.open("w") as output:
        sweep = start_training(command, store, shared_data, tmp_path,
                               stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    return sweep, log


def stored_study(tmp_path, name: str) -> optuna.Study | None:
    """The study, once the sweep has created it."""
    if not (tmp_path / "outputs" / "optuna.db").exists():
        return None
    try:
        return load_study(tmp_path, name)
    except Exception:  # no such study yet, or its tables are being created
        return None


def states(study: optuna.Study | None) -> list[str]:
    return [] if study is None else sorted(t.state.name for t in study.get_trials(deepcopy=False))


def one_done_one_training(study: optuna.Study | None) -> bool:
    """A trial COMPLETE, and a RUNNING one whose MLflow run has started."""
    if study is None:
        return False
    trials = study.get_trials(deepcopy=False)
    done = any(trial.state == TrialState.COMPLETE for trial in trials)
    return done and any(
        trial.state == TrialState.RUNNING and "mlflow_run_id" in trial.user_attrs
        for trial in trials
    )


def runs_by_trial(store, experiment: str) -> dict[int, object]:
    return {
        int(run.data.tags["optuna_trial"]): run
        for run in store.runs(experiment)
        if "optuna_trial" in run.data.tags
    }


def test_a_study_killed_mid_trial_continues_to_n_trials(store, shared_data, tmp_path):
    name = "continued_study"
    process, log = start_sweep(optuna_sweep(name, 3, 200), store, shared_data, tmp_path, "first")
    # Loaded once: opening the storage at each look could outlast a trial on a busy machine.
    study = wait_for(lambda: stored_study(tmp_path, name), "the study", process, log)
    wait_for(lambda: one_done_one_training(study), "a finished trial and one training",
             process, log)  # fmt: skip
    process.send_signal(signal.SIGKILL)  # no chance to tidy up
    process.wait(timeout=30)
    study = load_study(tmp_path, name)
    killed = next(t for t in study.get_trials() if t.state == TrialState.RUNNING)

    result = run_module("train", optuna_sweep(name, 4, 200), store, shared_data, tmp_path)
    assert "1 of 4 trials already run" in result.output
    assert f"trial {killed.number} was left unfinished by a sweep that stopped" in result.output
    trials = load_study(tmp_path, name).get_trials()
    complete = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    assert len(complete) == 4 and len(trials) == 5
    assert next(t for t in trials if t.number == killed.number).state == TrialState.FAIL
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == killed.number)
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params
    # Each trial knows its MLflow run, and each run its trial.
    runs = runs_by_trial(store, name)
    for trial in complete:
        run = runs[trial.number]
        assert run.info.run_id == trial.user_attrs["mlflow_run_id"]
        assert run.info.status == "FINISHED"
    killed_run = store.client().get_run(killed.user_attrs["mlflow_run_id"])
    assert killed_run.info.status == "KILLED"  # found abandoned by the next run


def test_two_processes_share_one_study(store, shared_data, tmp_path):
    name = "shared_study"
    command = optuna_sweep(name, 4, 100)
    first, log = start_sweep(command, store, shared_data, tmp_path, "first")
    # The second joins once the study exists (it seeds its sampler past the first's draws).
    wait_for(lambda: states(stored_study(tmp_path, name)), "the study's first trial", first, log)
    second = start_training(command, store, shared_data, tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    assert first.wait(timeout=300) == 0 and second.wait(timeout=300) == 0

    trials = load_study(tmp_path, name).get_trials()
    ran = [trial for trial in trials if not trial.user_attrs.get("surplus")]
    assert [trial.state for trial in ran] == [TrialState.COMPLETE] * 4
    assert len({tuple(sorted(trial.params.items())) for trial in ran}) == 4
    assert len({trial.user_attrs["sweeper_pid"] for trial in ran}) == 2  # both took part
    runs = runs_by_trial(store, name)
    assert sorted(runs) == [trial.number for trial in ran]
    assert {run.info.status for run in runs.values()} == {"FINISHED"}


def test_pruned_trials_end_early_in_optuna_and_mlflow(store, shared_data, tmp_path):
    name = "pruned_study"
    epochs = 20
    command = optuna_sweep(
        name, 5, epochs,
        "hydra.sweeper.pruner=successive_halving",
        "hydra/sweeper/sampler=random",  # takes no n_startup_trials: ignored
        "hydra.sweeper.params={optimizer.lr:'choice(0.0003,0.05)'}",
    )  # fmt: skip
    result = run_module("train", command, store, shared_data, tmp_path)
    assert "RandomSampler takes no n_startup_trials: ignored" in result.output
    trials = load_study(tmp_path, name).get_trials()
    pruned = {t.number for t in trials if t.state == TrialState.PRUNED}
    complete = {t.number for t in trials if t.state == TrialState.COMPLETE}
    assert pruned and complete and len(pruned | complete) == 5

    parent, children = sweep_runs(store, name)
    client = store.client()
    for trial in trials:
        run = next(c for c in children if c.data.tags["optuna_trial"] == str(trial.number))
        epochs_logged = len(client.get_metric_history(run.info.run_id, "val/rmse"))
        assert epochs_logged == len(trial.intermediate_values)
        if trial.number in pruned:
            assert run.info.status == "KILLED" and run.data.tags["pruned"] == "true"
            assert "pruned by Optuna's SuccessiveHalvingPruner" in run.data.tags["end_reason"]
            assert epochs_logged < epochs
        else:
            assert run.info.status == "FINISHED" and epochs_logged == epochs
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["jobs_pruned"] == len(pruned)
    assert parent.data.metrics["jobs_finished"] == len(complete)
    assert parent.data.metrics["jobs_not_finished"] == 0


@pytest.mark.parametrize(
    "storage, shown",
    [
        ("sqlite:////proc/no_such_folder/optuna.db", "sqlite:////proc/no_such_folder/optuna.db"),
        ("postgresql+psycopg://user:secret@127.0.0.1:9/db", "postgresql+psycopg://***@127.0.0.1:9/db"),
    ],
)  # fmt: skip
def test_a_storage_that_cannot_be_opened_stops_the_sweep_before_any_job(
    store, shared_data, tmp_path, storage, shown
):
    name = "unreachable_study"
    command = optuna_sweep(name, 2, 5, f"hydra.sweeper.storage={storage}")
    result = run_module("train", command, store, shared_data, tmp_path, expect_success=False)
    assert result.returncode != 0
    assert f"cannot open the Optuna storage {shown}" in result.output
    assert "secret" not in result.output
    assert store.client().get_experiment_by_name(name) is None  # no parent, no job
