"""Leaderboards: runs ranked by a metric, with only the params that differ between them.

Takes the DataFrame `mlflow.search_runs` returns (columns `metrics.*`, `params.*`,
`tags.*`), but never imports mlflow: `tracking` fetches the runs and logs the result.
A run's validation metrics are ranked by their value at its best epoch (the
`best/val/...` metrics: the weights that were kept and tested).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ml_experiments.config.metric_names import DIRECTIONS, direction
from ml_experiments.errors import ConfigError
from ml_experiments.reporting import statistics

# Params that differ between any two runs without being a choice of the user's; `data/`
# params describe what a choice led to (dropping a column changes data/input_shape).
INCIDENTAL_PARAMS = ("paths.", "logger.", "trainer.checkpoint.dir", "trainer.resume", "data/")
# Run tags that name a config group's choice (see tracking.run._tags).
CHOICE_TAGS = ("experiment", "dataset", "model", "optimizer", "scheduler")
LEADING_COLUMNS = ["run", "run_id", "status"]


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
    board = board.sort_values(metric, ascending=better(metric) == "lower", na_position="last")
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
    do not all agree on its value. When the experiment itself varies, it is one column
    too, and what comes with each experiment's recipe (its model, its widths) is not:
    then a choice or key counts only when it varies between runs of one experiment.
    """
    candidates = {group: f"tags.{group}" for group in CHOICE_TAGS if f"tags.{group}" in runs}
    keys = [column.removeprefix("params.") for column in runs if column.startswith("params.")]
    for key in sorted(keys):
        # A value the run chose itself (model.C_chosen) is an outcome, not an option.
        outcome = key.endswith("._target_") or key.endswith("_chosen")
        if not key.startswith(INCIDENTAL_PARAMS) and not outcome:
            candidates[key] = f"params.{key}"
    experiment = candidates.pop("experiment", None)
    columns, groups = {}, [runs]
    if experiment is not None and runs[experiment].nunique(dropna=False) > 1:
        columns["experiment"] = experiment
        groups = [group for _, group in runs.groupby(experiment, dropna=False)]
    for name, column in candidates.items():
        if any(_varies(group[column], column.startswith("tags.")) for group in groups):
            columns[name] = column
    return columns


def _varies(values: pd.Series, is_choice: bool) -> bool:
    """A choice varies when any two runs differ (`none` included); a key, between the
    runs that have it."""
    return (values.nunique(dropna=False) if is_choice else values.dropna().nunique()) > 1


def save(board: pd.DataFrame, metric: str, folder: Path) -> list[Path]:
    """The leaderboard as CSV and Markdown in `folder`, with a figure of the metric
    against each varied param; returns the files written."""
    from ml_experiments.reporting import viz  # matplotlib: only when there is a figure to draw

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


def better(metric: str) -> str:
    try:
        return "lower" if direction(metric) == "min" else "higher"
    except KeyError:
        raise ConfigError(
            f"cannot tell whether a higher or lower {metric!r} is better. "
            f"Compare on a metric ending in one of: {', '.join(DIRECTIONS)}."
        ) from None


# --- seeds aggregated -------------------------------------------------------------

SEED = "seed"


def configurations(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per configuration (runs that differ only in `seed`), ranked by the mean of
    `metric` over its FINISHED runs, with std, n, the Student-t 95% interval, the failed
    runs it had, and its runs' ids and seeds. A run that failed holds no final metric,
    so it counts in `failed`, never in the mean."""
    board = seeded_leaderboard(runs, metric)
    keys = [key for key in varied_columns(runs) if key != SEED]
    groups = board.groupby(keys, dropna=False, sort=False) if keys else [((), board)]
    rows = [_configuration_row(keys, values, group, metric) for values, group in groups]
    table = pd.DataFrame(rows)
    table = table.sort_values("mean", ascending=better(metric) == "lower", na_position="last")
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    return table


def seeded_leaderboard(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The leaderboard with every run's seed, varied or not (pairing needs it)."""
    board = leaderboard(runs, metric)
    seeds = runs.set_index("run_id").get(f"params.{SEED}")
    board[SEED] = board["run_id"].map(seeds) if seeds is not None else ""
    return board


def _configuration_row(keys: list[str], values, group: pd.DataFrame, metric: str) -> dict:
    values = values if isinstance(values, tuple) else (values,)
    finished = group[group["status"] == "FINISHED"]
    interval = statistics.t_interval(finished[metric]) if len(finished) else None
    test_metric = f"test/{metric[4:]}" if metric.startswith("val/") else None
    row = {"configuration": _label(keys, values)}
    row |= {
        "mean": interval.mean if interval else np.nan,
        "std": interval.std if interval else np.nan,
        "n": len(finished),
        "ci_low": interval.low if interval else np.nan,
        "ci_high": interval.high if interval else np.nan,
        "failed": len(group) - len(finished),
    }
    if test_metric in group:
        row[f"{test_metric} mean"] = finished[test_metric].mean()
    row["minutes"] = round(group["minutes"].mean(), 2)
    row |= dict(zip(keys, values, strict=True))
    row["seeds"] = " ".join(str(seed) for seed in finished[SEED])
    row["run_ids"] = " ".join(finished["run_id"])
    return row


def _label(keys: list[str], values: tuple) -> str:
    if not keys:
        return "all runs (one configuration)"
    return " ".join(f"{key}={value}" for key, value in zip(keys, values, strict=True))


def seed_values(configuration: pd.Series, board: pd.DataFrame, metric: str) -> dict[str, float]:
    """{seed: metric} of a configuration's finished runs, from the per-run `board`."""
    ids = configuration["run_ids"].split()
    chosen = board.set_index("run_id").loc[ids]
    return dict(zip(chosen[SEED].astype(str), chosen[metric].astype(float), strict=True))


def save_configurations(table: pd.DataFrame, folder: Path) -> list[Path]:
    """The configurations as CSV and Markdown in `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = [folder / "configurations.csv", folder / "configurations.md"]
    table.to_csv(saved[0])
    saved[1].write_text(markdown_table(table.drop(columns=["run_ids"])) + "\n")
    return saved
