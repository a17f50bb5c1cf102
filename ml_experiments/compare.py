"""Compare runs: `python -m ml_experiments.compare experiment=<name> [metric=val/acc]`.

Reads the runs of an MLflow experiment (or the children of a sweep's parent run,
`parent=<run id>`) with `mlflow.search_runs`, ranks them by a metric and shows
only the params that differ between them. Prints the leaderboard, saves it as
CSV and Markdown with a figure of the metric against each varied param, and, for
a sweep, logs all of it to the parent run.

A run's validation metrics are ranked by their value at its best epoch (the
`best/val/...` metrics, the weights that were kept and tested).
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ml_experiments.config import PROJECT_ROOT
from ml_experiments.errors import ConfigError, exit_on_user_error
from ml_experiments.tracking import default_tracking_uri, without_credentials

log = logging.getLogger("ml_experiments.compare")

# Params that differ between any two runs without being a choice of the user's.
INCIDENTAL_PARAMS = ("paths.", "logger.", "trainer.checkpoint.dir", "trainer.resume")
# Run tags that name a config group's choice (see tracking._tags).
CHOICE_TAGS = ("experiment", "dataset", "model", "optimizer", "scheduler")
LEADING_COLUMNS = ["run", "run_id", "status"]


@dataclass
class PathsOptions:
    outputs_dir: str = str(PROJECT_ROOT / "outputs")  # results go to <outputs_dir>/compare/


@dataclass
class CompareOptions:
    """`key=value` arguments: which runs to rank, by what, and where to save the result."""

    experiment: str | None = None  # an MLflow experiment name
    parent: str | None = None  # a sweep's parent run id: rank its children
    metric: str | None = None  # default: the runs' optimized_metric
    top: int = 20  # rows printed; the saved files hold every run
    max_runs: int = 1000
    paths: PathsOptions = field(default_factory=PathsOptions)
    tracking_uri: str | None = None  # default: MLFLOW_TRACKING_URI, else <outputs_dir>/mlflow.db


def main(arguments: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with exit_on_user_error(log):
        options = parse_options(arguments)
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        compare(options, Path(options.paths.outputs_dir) / "compare" / stamp)


def parse_options(arguments: list[str]) -> CompareOptions:
    try:
        merged = OmegaConf.merge(
            OmegaConf.structured(CompareOptions), OmegaConf.from_dotlist(arguments)
        )
    except (OmegaConfBaseException, ValueError) as error:
        raise ConfigError(
            f"{error}. Arguments are key=value, keys: experiment, parent, metric, top, "
            "max_runs, paths.outputs_dir, tracking_uri."
        ) from error
    options = OmegaConf.to_object(merged)
    if options.tracking_uri is None:
        options.tracking_uri = default_tracking_uri(options.paths.outputs_dir)
    return options


def compare(cfg: CompareOptions, output_dir: Path) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(cfg.tracking_uri)
    client = mlflow.MlflowClient()
    if cfg.parent:
        parent = _parent_run(client, cfg.parent, cfg.tracking_uri)
        runs = child_runs(parent.info.run_id, parent.info.experiment_id)
        default_metric = parent.data.tags.get("optimized_metric")
        title = parent.info.run_name
    else:
        experiment = _experiment(client, cfg.experiment, cfg.tracking_uri)
        runs = mlflow.search_runs(
            experiment_ids=[experiment.experiment_id],
            filter_string="tags.sweep_dir IS NULL",  # sweep parents hold no metrics of their own
            max_results=cfg.max_runs,
        )
        default_metric = _most_common(runs, "params.optimized_metric")
        title = cfg.experiment
    if runs.empty:
        if cfg.parent:
            raise ConfigError(
                f"run {cfg.parent} has no child runs. Is it a sweep's parent run? Sweep "
                "parents are named '<name> sweep: ...' or '<name> optuna: ...'."
            )
        raise ConfigError(f"no runs to compare in {title!r}. Train some first.")
    metric = cfg.metric or default_metric or "val/loss"
    board = leaderboard(runs, metric)
    print(f"{title}: {len(board)} runs ranked by {metric} ({_better(metric)} is better)\n")
    print(board.head(cfg.top).to_string(float_format=lambda value: f"{value:.4g}"))
    saved = save(board, metric, output_dir)
    print(f"\nsaved {', '.join(path.name for path in saved)} in {output_dir}")
    if cfg.parent:
        # The sweep's own summary ranks by its optimized_metric; another metric goes beside it.
        folder = "summary" if metric == default_metric else f"summary/{metric.replace('/', '_')}"
        log_to_run(client, cfg.parent, board, metric, folder)
        print(f"logged to the parent run {cfg.parent} under {folder}/")
    return board


def child_runs(parent_run_id: str, experiment_id: str) -> pd.DataFrame:
    import mlflow

    return mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
    )


def leaderboard(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The runs ranked by `metric` (best first, rank 1), with the params that differ."""
    value = _metric_values(runs, metric)
    board = pd.DataFrame(
        {
            "run": _without_shared_suffix(runs["tags.mlflow.runName"]),
            "run_id": runs["run_id"],
            "status": runs["status"],
            metric: value,
        }
    )
    if metric.startswith("val/") and f"metrics.test/{metric[4:]}" in runs:
        board[f"test/{metric[4:]}"] = runs[f"metrics.test/{metric[4:]}"]
    for name, column in varied_columns(runs).items():
        board[name] = runs[column]
    # A run still going has no end time (and then no time zone): let it count as unknown.
    elapsed = pd.to_datetime(runs["end_time"], utc=True) - pd.to_datetime(
        runs["start_time"], utc=True
    )
    board["minutes"] = (elapsed.dt.total_seconds() / 60).round(2)
    board = board.sort_values(metric, ascending=_better(metric) == "lower", na_position="last")
    board.index = pd.RangeIndex(1, len(board) + 1, name="rank")
    return board


def _without_shared_suffix(names: pd.Series) -> pd.Series:
    """`#3 optimizer.lr=0.1 (boston_linear: linear on boston)` -> `#3 optimizer.lr=0.1`
    when every run of the board ends with the same `(...)`: a sweep's children do."""
    suffixes = names.fillna("").str.extract(r"( \([^()]*\))$")[0]
    if len(names) == 0 or suffixes.isna().any() or suffixes.nunique() != 1:
        return names
    return names.str.removesuffix(suffixes.iloc[0])


def varied_columns(runs: pd.DataFrame) -> dict[str, str]:
    """What differs between the runs, as leaderboard column -> search_runs column.

    A group's choice (`optimizer`: sgd or adam) is one column; the keys that come with
    one choice only (Adam's betas) are not. A key counts when the runs that have it
    do not all agree on its value.
    """
    columns = {
        group: f"tags.{group}"
        for group in CHOICE_TAGS
        if f"tags.{group}" in runs and runs[f"tags.{group}"].nunique(dropna=False) > 1
    }
    keys = [column.removeprefix("params.") for column in runs if column.startswith("params.")]
    for key in sorted(keys):
        if key.startswith(INCIDENTAL_PARAMS) or key.endswith("._target_"):
            continue
        if runs[f"params.{key}"].dropna().nunique() > 1:
            columns[key] = f"params.{key}"
    return columns


def save(board: pd.DataFrame, metric: str, folder: Path) -> list[Path]:
    from ml_experiments import viz

    folder.mkdir(parents=True, exist_ok=True)
    saved = [folder / "leaderboard.csv", folder / "leaderboard.md"]
    board.to_csv(saved[0])
    saved[1].write_text(markdown_table(board) + "\n")
    params = [column for column in board if column not in LEADING_COLUMNS + [metric, "minutes"]]
    params = [column for column in params if not column.startswith("test/")]
    finished = board[np.isfinite(board[metric].astype(float))]
    if params and len(finished):
        figures = {"metric_vs_params": viz.metric_vs_params(finished, metric, params)}
        if len(params) > 1:
            figures["parallel_coordinates"] = viz.parallel_coordinates(finished, metric, params)
        for name, figure in figures.items():
            saved.append(folder / f"{name}.png")
            figure.savefig(saved[-1], dpi=110, bbox_inches="tight")
            viz.close(figure)
    return saved


def log_to_run(
    client, run_id: str, board: pd.DataFrame, metric: str, folder: str = "summary"
) -> None:
    """Save the leaderboard and figures as the run's artifacts, under `folder`."""
    with tempfile.TemporaryDirectory() as scratch:
        save(board, metric, Path(scratch))
        client.log_artifacts(run_id, scratch, folder)


def markdown_table(board: pd.DataFrame) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else f"{value:.4g}"
        return str(value).replace("|", "\\|")

    header = [board.index.name or "", *board.columns]
    rows = [
        [rank, *row] for rank, row in zip(board.index, board.itertuples(index=False), strict=True)
    ]
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cell(value) for value in line) + " |" for line in lines)


def _metric_values(runs: pd.DataFrame, metric: str) -> pd.Series:
    best, last = f"metrics.best/{metric}", f"metrics.{metric}"
    if best not in runs and last not in runs:
        logged = sorted(
            column.removeprefix("metrics.")
            for column in runs
            if column.startswith("metrics.") and not column.startswith("metrics.best/")
        )
        raise ConfigError(f"no run logged the metric {metric!r}. Pick one of: {', '.join(logged)}.")
    if best not in runs:
        return runs[last]
    return runs[best].fillna(runs[last]) if last in runs else runs[best]


def _better(metric: str) -> str:
    from ml_experiments.engine.metric_names import DIRECTIONS, direction

    try:
        return "lower" if direction(metric) == "min" else "higher"
    except KeyError:
        raise ConfigError(
            f"cannot tell whether a higher or lower {metric!r} is better. "
            f"Compare on a metric ending in one of: {', '.join(DIRECTIONS)}."
        ) from None


def _parent_run(client, run_id: str, tracking_uri: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as error:
        raise ConfigError(
            f"no MLflow run with id {run_id} in {without_credentials(tracking_uri)}. "
            "Copy a sweep's parent run id from the MLflow UI or the sweep's log."
        ) from error


def _experiment(client, name: str | None, tracking_uri: str):

    names = sorted(experiment.name for experiment in client.search_experiments())
    if not name:
        raise ConfigError(
            f"name what to compare: experiment=<name> or parent=<sweep run id>. "
            f"Experiments in the store: {', '.join(names) or 'none'}."
        )
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        raise ConfigError(
            f"no MLflow experiment named {name!r} in {without_credentials(tracking_uri)}. "
            f"Experiments in the store: {', '.join(names) or 'none'}."
        )
    return experiment


def _most_common(runs: pd.DataFrame, column: str) -> str | None:
    if column not in runs or runs[column].dropna().empty:
        return None
    return runs[column].mode().iloc[0]


if __name__ == "__main__":
    main(sys.argv[1:])
