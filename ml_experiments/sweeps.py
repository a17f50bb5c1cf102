"""A multirun as one MLflow parent run with a nested child run per job.

The launching process opens the parent run before any job starts (the Hydra
callback `callbacks.SweepParentRun`) and writes its id to a small file in the
sweep folder. Each job, in whatever process or machine the launcher runs it,
reads that file and nests its run under the parent. When the sweep ends the
parent receives a summary: the best child, a leaderboard and its figures.

Opening the store and the experiment once, up front, also means parallel jobs
never race each other to create the SQLite schema.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from ml_experiments import paths
from ml_experiments.tracking import store
from ml_experiments.tracking.sweep_record import Sweep, key_of, write_sweep

log = logging.getLogger(__name__)

OPTUNA_RESULTS = "optimization_results.yaml"
# Keys that change which MLflow experiment a single run logs to.
EXPERIMENT_KEYS = {"experiment", "name", "dataset", "dataset.name", "logger.experiment_name"}
SHARED_EXPERIMENT = "sweeps"


def swept_keys(config: DictConfig) -> list[str]:
    """The keys the sweep varies: sweep overrides on the command line, and an
    Optuna search space (`hydra.sweeper.params`)."""
    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    keys = [override.key_or_group for override in parsed if override.is_sweep_override()]
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return keys + [key for key in params if key not in keys]


def experiment_name_of(config: DictConfig, keys: list[str]) -> str:
    """One sweep, one experiment: the config's own, or a shared one when jobs differ in it."""
    if EXPERIMENT_KEYS.intersection(keys):
        return SHARED_EXPERIMENT
    return config.logger.experiment_name


def start_parent_run(config: DictConfig) -> Sweep:
    """Create the store, the experiment and the parent run; return what jobs need."""
    from mlflow import MlflowClient

    tracking_uri = config.logger.tracking_uri
    store.prepare_store(tracking_uri)
    keys = swept_keys(config)
    artifact_root = paths.artifact_root_for(tracking_uri, config.paths.outputs_dir)
    experiment_id = store.experiment_id_for(experiment_name_of(config, keys), artifact_root)
    sweep_dir = Path(config.hydra.sweep.dir).resolve()
    parent = MlflowClient(tracking_uri).create_run(
        experiment_id,
        run_name=parent_run_name(config, keys),
        tags={
            "sweep_dir": str(sweep_dir),
            "sweeper": config.hydra.sweeper._target_.rsplit(".", 1)[-1],
            "launcher": config.hydra.launcher._target_.rsplit(".", 1)[-1],
            "swept_keys": " ".join(keys),
            "optimized_metric": config.optimized_metric,
            "overrides": " ".join(config.hydra.overrides.task),
            "git_commit": store.git_commit(),
        },
    )
    sweep = Sweep(
        parent.info.run_id, experiment_id, tracking_uri, keys, str(config.optimized_metric)
    )
    write_sweep(sweep, sweep_dir)
    log.info("sweep parent run %s; each job nests its run under it", sweep.parent_run_id)
    return sweep


def parent_run_name(config: DictConfig, keys: list[str]) -> str:
    sweeper = config.hydra.sweeper._target_.rsplit(".", 1)[-1].removesuffix("Sweeper").lower()
    if sweeper == "optuna":
        trials = config.hydra.sweeper.n_trials
        return f"{config.name} optuna: {trials} trials over {', '.join(keys)}"
    varied = [item for item in config.hydra.overrides.task if key_of(item) in keys]
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    on_command_line = {key_of(item) for item in varied}
    varied += [f"{key}={value}" for key, value in params.items() if key not in on_command_line]
    return f"{config.name} sweep: {' '.join(varied)}"


def finish_parent_run(sweep: Sweep, sweep_dir: Path, completed: bool) -> str:
    """Log the summary of the children to the parent run, end it, and return its status:
    FINISHED when the sweep completed and at least one job finished, FAILED otherwise.
    The parent ends even when the summary cannot be written."""
    import mlflow

    mlflow.set_tracking_uri(sweep.tracking_uri)
    client = mlflow.MlflowClient()
    finished = 0
    try:
        runs = store.child_runs(sweep.parent_run_id, sweep.experiment_id)
        finished = int((runs["status"] == "FINISHED").sum()) if len(runs) else 0
        _log_summary(client, sweep, sweep_dir, runs, finished)
    except Exception:  # a summary is not worth leaving the parent RUNNING forever
        log.exception("could not write the summary of sweep %s", sweep.parent_run_id)
    finally:
        status = "FINISHED" if completed and finished else "FAILED"
        if status == "FAILED":
            reason = "the sweep stopped before its end" if not completed else "no job finished"
            client.set_tag(sweep.parent_run_id, "end_reason", reason)
        client.set_terminated(sweep.parent_run_id, status)
    log.info("sweep parent run %s ended %s", sweep.parent_run_id, status)
    return status


def _log_summary(client, sweep: Sweep, sweep_dir: Path, runs, finished: int) -> None:
    """Counts, best child, leaderboard and Optuna's results."""
    from ml_experiments.reporting.leaderboard import leaderboard
    from ml_experiments.tracking.logger import log_leaderboard

    metric = sweep.optimized_metric
    # A job that failed before its run started has a folder but no run.
    jobs = max(len(runs), sum(1 for path in sweep_dir.iterdir() if path.name.isdigit()))
    client.log_metric(sweep.parent_run_id, "jobs_finished", finished)
    client.log_metric(sweep.parent_run_id, "jobs_not_finished", jobs - finished)
    optuna_results = sweep_dir / OPTUNA_RESULTS
    if optuna_results.is_file():
        client.log_artifact(sweep.parent_run_id, str(optuna_results), "optuna")
    if not finished:
        return
    board = leaderboard(runs, metric)
    log_leaderboard(client, sweep.parent_run_id, board, metric)
    # Failed runs keep their last val/* values: the best is a finished run's.
    contenders = board[(board["status"] == "FINISHED") & board[metric].notna()]
    if len(contenders):
        best = contenders.iloc[0]
        client.set_tag(sweep.parent_run_id, "best_run_id", best["run_id"])
        client.set_tag(sweep.parent_run_id, "best_run", best["run"])
        client.log_metric(sweep.parent_run_id, f"best/{metric}", float(best[metric]))
        log.info("best of %d runs: %s, %s = %.4g", finished, best["run"], metric, best[metric])
