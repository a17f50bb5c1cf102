"""A multirun as one MLflow parent run with a nested child run per job.

The launching process opens the parent run before any job starts (the Hydra
callback `callbacks.SweepParentRun`) and writes its id to a small file in the
sweep folder. Each job, in whatever process or machine the launcher runs it,
reads that file and nests its run under the parent. When the sweep ends the
parent receives a summary: the best child, a leaderboard and its figures.

Opening the store and the experiment once, up front, also means parallel jobs
never race each other to create the SQLite schema.

A sweep over experiments (or datasets, models, ...) composes each job from its own
experiment, but Hydra first composes the whole multirun against the default config.
`force_group_overrides` lets an override such as `dataset.train_subset=500` through
that first composition, and `check_overrides_fit_every_job` checks it against every
swept experiment's own schema before any job runs.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from ml_experiments import paths
from ml_experiments.errors import ConfigError
from ml_experiments.tracking import store
from ml_experiments.tracking.store import PRUNED_TAG
from ml_experiments.tracking.sweep_record import Sweep, key_of, recorded_sweep, write_sweep

log = logging.getLogger(__name__)

OPTUNA_RESULTS = "optimization_results.yaml"
# Keys that change which MLflow experiment a single run logs to.
EXPERIMENT_KEYS = {"experiment", "name", "dataset", "dataset.name", "logger.experiment_name"}
SHARED_EXPERIMENT = "sweeps"
# Config groups whose options have schemas of their own: a key of one option may be
# missing from another. `experiment` chooses options of all of them.
VARYING_GROUPS = ("dataset", "model", "optimizer", "scheduler")
SCHEMA_CHOOSING_GROUPS = ("experiment", *VARYING_GROUPS)
FORCED = "++"


def force_group_overrides(arguments: list[str]) -> list[str]:
    """The command line with `group.key=value` made `++group.key=value` in a multirun that
    sweeps a schema-choosing group; unchanged otherwise. See the module docstring."""
    if not {"-m", "--multirun"}.intersection(arguments):
        return arguments
    parsed = {index: _parsed(argument) for index, argument in enumerate(arguments)}
    parsed = {index: override for index, override in parsed.items() if override is not None}
    if not any(_sweeps_a_schema(override) for override in parsed.values()):
        return arguments
    forced = list(arguments)
    for index, override in parsed.items():
        if _targets_a_varying_group(override):
            forced[index] = FORCED + arguments[index]
    return forced


def _parsed(argument: str) -> Override | None:
    if argument.startswith("-") or "=" not in argument:
        return None
    try:
        return OverridesParser.create().parse_overrides([argument])[0]
    except Exception:  # Hydra reports malformed overrides itself, with its own message
        return None


def _sweeps_a_schema(override: Override) -> bool:
    return override.is_sweep_override() and override.key_or_group in SCHEMA_CHOOSING_GROUPS


def _targets_a_varying_group(override: Override) -> bool:
    group = override.key_or_group.split(".", 1)[0]
    is_value = "." in override.key_or_group
    plain = override.type == OverrideType.CHANGE and not override.is_sweep_override()
    return plain and is_value and group in VARYING_GROUPS


def check_overrides_fit_every_job(config: DictConfig) -> None:
    """Every forced override names a key that every combination of the swept
    experiments (datasets, models, ...) has; ConfigError naming the others if not."""
    from hydra import compose

    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    forced = [override for override in parsed if override.input_line.startswith(FORCED)]
    swept = [override for override in parsed if _sweeps_a_schema(override)]
    if not forced or not swept:
        return
    fixed = [o.input_line for o in parsed if not o.is_sweep_override() and o not in forced]
    choices = [[f"{o.key_or_group}={v}" for v in o.sweep_string_iterator()] for o in swept]
    problems = []
    for combination in itertools.product(*choices):
        job = compose(config.hydra.job.config_name, overrides=[*fixed, *combination])
        missing = [o.key_or_group for o in forced if _lacks(job, o.key_or_group)]
        if missing:
            problems.append(f"{' '.join(combination)} has no {', '.join(missing)}")
    if problems:
        raise ConfigError(
            "an override does not fit every job of the sweep:\n  - "
            + "\n  - ".join(problems)
            + "\nDrop it, or sweep only the experiments that have the key."
        )


def _lacks(config: DictConfig, key: str) -> bool:
    """No such key. A key whose value is still `???` (given by this very override, as
    dataset.path for dataset=csv) is there: `OmegaConf.select` alone would say absent."""
    parent, _, name = key.rpartition(".")
    node = OmegaConf.select(config, parent) if parent else config
    return not isinstance(node, DictConfig) or name not in node.keys()


def check_study_storage(config: DictConfig) -> None:
    """An Optuna sweep's study storage opens (ConfigError naming it if not): checked before
    the parent run and any job."""
    if "storage" in config.hydra.sweeper:
        from ml_experiments.tuning.study import check_storage

        check_storage(config.hydra.sweeper.storage)


def pin_sweep_dir(config: DictConfig) -> Path:
    """Resolve the sweep folder once, in the launching process, and hand it to every job.

    Each job re-resolves `hydra.sweep.dir` in its own config, where `${name}` is its
    experiment's; a Hydra override appended here makes every job use this folder.
    """
    sweep_dir = Path(config.hydra.sweep.dir).resolve()
    quoted = str(sweep_dir).replace("\\", "\\\\").replace("'", "\\'")
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = str(sweep_dir)
        config.hydra.overrides.hydra.append(f"hydra.sweep.dir='{quoted}'")
    return sweep_dir


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
    """Create the store, the experiment and the parent run; return what jobs need. A sweep
    run again in the same folder (`hydra.sweep.dir`) continues its parent run instead."""
    from mlflow import MlflowClient

    tracking_uri = config.logger.tracking_uri
    store.prepare_store(tracking_uri)
    sweep_dir = Path(config.hydra.sweep.dir).resolve()
    earlier = recorded_sweep(sweep_dir)
    if earlier is not None and _reopened(earlier, tracking_uri):
        return earlier
    keys = swept_keys(config)
    artifact_root = paths.artifact_root_for(tracking_uri, config.paths.outputs_dir)
    experiment_id = store.experiment_id_for(experiment_name_of(config, keys), artifact_root)
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
        }
        | _study_tags(config.hydra.sweeper),
    )
    register_best_as = None
    if config.logger.register_best:
        register_best_as = config.logger.register_as or paths.safe_folder_name(config.name)
    sweep = Sweep(
        parent.info.run_id,
        experiment_id,
        tracking_uri,
        keys,
        str(config.optimized_metric),
        register_best_as,
    )
    write_sweep(sweep, sweep_dir)
    log.info("sweep parent run %s; each job nests its run under it", sweep.parent_run_id)
    return sweep


def _study_tags(sweeper: DictConfig) -> dict[str, str]:
    """An Optuna sweep's study: its name and where it is stored (password removed)."""
    if not sweeper.get("storage"):
        return {}
    return {
        "optuna_study": str(sweeper.study_name),
        "optuna_storage": paths.without_credentials(str(sweeper.storage)),
    }


def _reopened(sweep: Sweep, tracking_uri: str) -> bool:
    """Mark an earlier run of this sweep's parent RUNNING again; False when it is not in
    this store (then the sweep starts a new parent)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri)
    try:
        parent = client.get_run(sweep.parent_run_id)
    except MlflowException:
        return False
    if sweep.tracking_uri != tracking_uri or parent.info.lifecycle_stage == "deleted":
        return False
    client.update_run(sweep.parent_run_id, status="RUNNING")
    if "end_reason" in parent.data.tags:
        client.delete_tag(sweep.parent_run_id, "end_reason")
    log.info(
        "continuing sweep parent run %s: jobs that already finished are skipped",
        sweep.parent_run_id,
    )
    return True


def finished_job(sweep: Sweep, overrides: list[str], metric: str) -> tuple[str, float] | None:
    """(run id, objective) of a FINISHED child of the sweep with exactly these overrides:
    a job of a sweep that is run again is not trained twice."""
    runs = store.child_runs(sweep.parent_run_id, sweep.experiment_id)
    if runs.empty or "tags.overrides" not in runs:
        return None
    same = runs[(runs["tags.overrides"] == " ".join(overrides)) & (runs["status"] == "FINISHED")]
    if same.empty:
        return None
    run = same.iloc[0]
    value = run.get(f"metrics.best/{metric}")
    if value is None or value != value:  # NaN: the scikit-learn path logs no best/
        value = run.get(f"metrics.{metric}", float("nan"))
    return run["run_id"], float(value)


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
        runs = _without_superseded(store.child_runs(sweep.parent_run_id, sweep.experiment_id))
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


def _without_superseded(runs):
    """The children less those a later run of the same job replaced: a job that failed or
    was stopped, then finished when the sweep was run again."""
    if runs.empty or "tags.overrides" not in runs:
        return runs
    finished = set(runs.loc[runs["status"] == "FINISHED", "tags.overrides"])
    superseded = (runs["status"] != "FINISHED") & runs["tags.overrides"].isin(finished)
    return runs[~superseded]


def _log_summary(client, sweep: Sweep, sweep_dir: Path, runs, finished: int) -> None:
    """Counts, why jobs failed, Optuna's results, and the leaderboard with the best child:
    each job ranked by its own experiment's optimized_metric."""
    # A job that failed before its run started has a folder but no run.
    jobs = max(len(runs), sum(1 for path in sweep_dir.iterdir() if path.name.isdigit()))
    pruned = _pruned(runs)
    client.log_metric(sweep.parent_run_id, "jobs_finished", finished)
    client.log_metric(sweep.parent_run_id, "jobs_pruned", int(pruned.sum()))
    client.log_metric(sweep.parent_run_id, "jobs_not_finished", jobs - finished - int(pruned.sum()))
    _report_failures(client, sweep, runs[~pruned], jobs - int(pruned.sum()))
    optuna_results = sweep_dir / OPTUNA_RESULTS
    if optuna_results.is_file():
        client.log_artifact(sweep.parent_run_id, str(optuna_results), "optuna")
    if not finished:
        return
    groups = _ranking_groups(runs, sweep.optimized_metric)
    if len(groups) > 1:
        note = "; ".join(f"{name}: {metric}" for name, (metric, _) in groups.items())
        client.set_tag(sweep.parent_run_id, "summary_note", f"ranked per experiment ({note})")
        log.info("the swept experiments optimize different metrics (%s): each is ranked "
                 "within its own experiment", note)  # fmt: skip
    for name, (metric, members) in groups.items():
        if not (members["status"] == "FINISHED").any():
            continue  # nothing to rank; _report_failures said why
        folder = "summary" if len(groups) == 1 else f"summary/{paths.safe_folder_name(name)}"
        _log_ranking(client, sweep, members, metric, folder, single=len(groups) == 1)


def _pruned(runs):
    """Which runs an Optuna pruner stopped (KILLED with the `pruned` tag): not failures."""
    import pandas as pd

    column = f"tags.{PRUNED_TAG}"
    if column not in runs:
        return pd.Series(False, index=runs.index, dtype=bool)
    return runs[column] == "true"


def _ranking_groups(runs, default_metric: str) -> dict:
    """experiment -> (its optimized_metric, its runs); one group when they all agree."""
    column = "params.optimized_metric"
    metrics = list(runs[column].dropna()) if column in runs else []
    if len(set(metrics)) <= 1:
        return {"all": (next(iter(metrics), default_metric), runs)}
    experiments = runs["tags.experiment"].fillna("none")
    return {
        name: (members[column].dropna().iloc[0], members)
        for name, members in runs.groupby(experiments)
    }


def _log_ranking(client, sweep: Sweep, runs, metric: str, folder: str, single: bool) -> None:
    """A leaderboard of `runs` under `folder`, and its best finished run."""
    from ml_experiments.reporting.leaderboard import leaderboard
    from ml_experiments.tracking.logger import log_leaderboard

    board = leaderboard(runs, metric)
    log_leaderboard(client, sweep.parent_run_id, board, metric, folder)
    # Failed runs keep their last val/* values: the best is a finished run's.
    contenders = board[(board["status"] == "FINISHED") & board[metric].notna()]
    if not len(contenders):
        return
    best = contenders.iloc[0]
    if single:
        client.set_tag(sweep.parent_run_id, "best_run_id", best["run_id"])
        client.set_tag(sweep.parent_run_id, "best_run", best["run"])
        if sweep.register_best_as:
            _register_best(client, sweep, best["run_id"])
    client.log_metric(sweep.parent_run_id, f"best/{metric}", float(best[metric]))
    log.info("best of %d runs: %s, %s = %.4g", len(contenders), best["run"], metric, best[metric])


def _register_best(client, sweep: Sweep, run_id: str) -> None:
    """The best run's model as a new version of the registered model, aliased champion."""
    from ml_experiments.tracking import registry

    models = client.get_run(run_id).outputs.model_outputs
    version = registry.register(models[-1].model_id, sweep.register_best_as, registry.CHAMPION)
    client.set_tag(sweep.parent_run_id, "champion", f"{sweep.register_best_as}/{version}")


def _report_failures(client, sweep: Sweep, runs, jobs: int) -> None:
    """Each job that did not finish, with its reason: on the console and as
    summary/failures.md on the parent run."""
    failed = runs[runs["status"] != "FINISHED"] if len(runs) else runs
    lines = [
        f"- {row['tags.mlflow.runName']}: {row['status']}, "
        f"{row.get('tags.end_reason') or 'no reason recorded'}"
        for _, row in failed.iterrows()
    ]
    if jobs > len(runs):
        lines.append(f"- {jobs - len(runs)} job(s) stopped before their run opened: see their logs")
    for line in lines:
        log.warning("not finished %s", line)
    if lines:
        text = "# Jobs that did not finish\n\n" + "\n".join(lines) + "\n"
        client.log_text(sweep.parent_run_id, text, "summary/failures.md")
