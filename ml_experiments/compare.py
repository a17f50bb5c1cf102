"""Compare runs: `python -m ml_experiments.compare experiment=<name> [metric=val/acc]`.

Reads the runs of an MLflow experiment (or the children of a sweep's parent run,
`parent=<run id>`) with `mlflow.search_runs`, ranks them by a metric and shows
only the params that differ between them. Then groups the runs that differ only in
`seed` into configurations, each with the mean, std, n and Student-t 95% interval of
the metric over its finished runs, ranked by the mean. Prints both, saves them as CSV
and Markdown with a figure of the metric against each varied param, and, for a sweep,
logs all of it to the parent run.

A run's validation metrics are ranked by their value at its best epoch (the
`best/val/...` metrics, the weights that were kept and tested).
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ml_experiments import paths
from ml_experiments.config.build import StoreOptions, key_value_options
from ml_experiments.errors import ConfigError, exit_on_user_error
from ml_experiments.reporting.leaderboard import (
    better,
    configurations,
    leaderboard,
    save,
    save_configurations,
)
from ml_experiments.reporting.statistics import METHOD
from ml_experiments.tracking import store
from ml_experiments.tracking.logger import log_leaderboard

log = logging.getLogger("ml_experiments.compare")
PRINT_WIDTH = 100  # when the output is not a terminal
MAX_CELL = 40  # characters of one printed cell


@dataclass
class CompareOptions(StoreOptions):
    """`key=value` arguments: which runs to rank, by what, and where to save the result."""

    experiment: str | None = None  # an MLflow experiment name
    parent: str | None = None  # a sweep's parent run id: rank its children
    metric: str | None = None  # default: the runs' optimized_metric
    top: int = 20  # rows printed; the saved files hold every run
    max_runs: int = 1000


def main(arguments: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with exit_on_user_error(log):
        options = parse_options(arguments)
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        compare(options, Path(options.paths.outputs_dir) / "compare" / stamp)


def parse_options(arguments: list[str]) -> CompareOptions:
    return key_value_options(CompareOptions, arguments, verbatim=("parent",))


def compare(cfg: CompareOptions, output_dir: Path) -> pd.DataFrame:
    import mlflow

    paths.check_tracking_uri(cfg.tracking_uri)
    mlflow.set_tracking_uri(cfg.tracking_uri)
    client = mlflow.MlflowClient()
    if cfg.parent:
        parent = store.parent_run(client, cfg.parent, cfg.tracking_uri)
        runs = store.child_runs(parent.info.run_id, parent.info.experiment_id)
        default_metric = parent.data.tags.get("optimized_metric")
        title = parent.info.run_name
    else:
        experiment = store.experiment_named(client, cfg.experiment, cfg.tracking_uri)
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
    print(f"{title}: {len(board)} runs ranked by {metric} ({better(metric)} is better)\n")
    print(printable(board.head(cfg.top)))
    table = configurations(runs, metric)
    print_configurations(table, metric)
    grouped = save_configurations(table, output_dir)
    saved = save(board, metric, output_dir) + grouped
    print(f"\nsaved {', '.join(path.name for path in saved)} in {output_dir}")
    if cfg.parent:
        # The sweep's own summary ranks by its optimized_metric; another metric goes beside it.
        folder = "summary" if metric == default_metric else f"summary/{metric.replace('/', '_')}"
        log_leaderboard(client, cfg.parent, board, metric, folder)
        for path in grouped:
            client.log_artifact(cfg.parent, str(path), folder)
        print(f"logged to the parent run {cfg.parent} under {folder}/")
    return board


def print_configurations(table: pd.DataFrame, metric: str) -> None:
    """The runs grouped into configurations (differing only in seed), ranked by the mean."""
    print(
        f"\n{len(table)} configurations, seeds aggregated: mean, std, n and {METHOD}\n"
        f"interval (ci_low, ci_high) of {metric} over the finished runs"
    )
    shown = table.drop(columns=["run_ids", "seeds", "configuration"])
    print(printable(shown))
    if table["n"].max() < 2:
        print("one seed per configuration: differences cannot be judged; sweep seed=0,1,2 too")


def printable(table: pd.DataFrame) -> str:
    """A table that fits the terminal: long cells cut short, the run id to its first 8
    characters, and the columns that do not fit wrapped below (the saved files hold all)."""
    shown = table.copy()
    if "run_id" in shown:
        shown["run_id"] = shown["run_id"].str[:8]
    width = shutil.get_terminal_size((PRINT_WIDTH, 24)).columns
    return shown.to_string(
        float_format=lambda value: f"{value:.4g}", max_colwidth=MAX_CELL, line_width=width
    )


def _most_common(runs: pd.DataFrame, column: str) -> str | None:
    if column not in runs or runs[column].dropna().empty:
        return None
    return runs[column].mode().iloc[0]


if __name__ == "__main__":
    main(sys.argv[1:])
