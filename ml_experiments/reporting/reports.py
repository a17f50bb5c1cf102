"""Blog-style reports: a sweep, an experiment or one run, written as Markdown with its
figures beside it and as one self-contained HTML page, from numbers the runs hold.

Takes the runs as `mlflow.search_runs` returns them and what `tracking.report_runs`
read from their artifacts; never imports mlflow. Every number in a report is a value
MLflow holds or is computed from them here; the Jinja templates in `templates/` only
lay the numbers out.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ml_experiments.config.rules import SCIKIT_LEARN_MODELS
from ml_experiments.errors import ConfigError
from ml_experiments.reporting import leaderboard, report_figures, statistics, viz

HERE = Path(__file__).parent
SUMMARY_FILE = "summary.json"  # a report's title and headline, for the portfolio
# Overrides that say where a run wrote, not what it was: left out of its command.
WHERE_PREFIXES = ("paths.", "logger.tracking_uri", "hydra.", "trainer.checkpoint.dir")
GAP_RATIO = 1.5  # validation loss this many times the training loss reads as overfitting
NAMED_RUNS = 3  # runs a sentence names; it counts the rest


@dataclass
class Evidence:
    """What a report needs beyond the runs' final values, read from their artifacts."""

    histories: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # run -> key
    confusion_matrix: bytes | None = None  # the best run's figure (PNG), when it logged one
    class_support: dict[str, int] | None = None  # test rows per class, from the best run


@dataclass
class Source:
    """The runs a report is about, and how to name it."""

    title: str
    kind: str  # "sweep", "experiment" or "run"
    runs: pd.DataFrame
    metric: str
    sweep_command: str | None = None


@dataclass
class Written:
    markdown: Path
    html: Path
    headline: str


# --- the pieces ---------------------------------------------------------------------


@dataclass
class Ranking:
    """The runs ranked, one by one (with seeds) and by configuration (best first); the
    options that tell configurations apart; the best configuration's best run."""

    board: pd.DataFrame
    table: pd.DataFrame
    keys: list[str]
    best_id: str


def rank(source: Source) -> Ranking:
    """The runs ranked by `source.metric`; an error when no run finished, naming how
    each ended."""
    board = leaderboard.seeded_leaderboard(source.runs, source.metric)
    table = leaderboard.configurations(source.runs, source.metric)
    if table["n"].sum() == 0:
        reasons = source.runs.get("tags.end_reason", pd.Series(dtype=str)).dropna().unique()
        raise ConfigError(
            f"none of the {len(source.runs)} runs of {source.title!r} finished, so there is "
            f"nothing to rank. How they ended: {'; '.join(reasons) or 'no end reason logged'}."
        )
    keys = [key for key in leaderboard.varied_columns(source.runs) if key != leaderboard.SEED]
    return Ranking(board, table, keys, _best_run_id(table.iloc[0], board))


def _best_run_id(best: pd.Series, board: pd.DataFrame) -> str:
    """The run of the best configuration with the best value (its figures are shown)."""
    runs = board[board["run_id"].isin(best["run_ids"].split())]
    return runs.iloc[0]["run_id"]  # the board is ranked best first


def headline(table: pd.DataFrame, metric: str) -> str:
    """The best configuration's mean and interval; named when there are others."""
    best = table.iloc[0]
    name = f"{best['configuration']}: " if len(table) > 1 else ""
    if best["n"] < 2:
        return f"{name}{metric} {number(best['mean'])} (one seed)"
    return f"{name}{metric} {number(best['mean'])} (95% CI {interval_text(best)}, n={best['n']})"


def problem(run: pd.Series) -> dict:
    """The data set, task, target or classes, split sizes and what was dropped."""
    dataset = run.get("tags.dataset", "unknown")
    splits = {
        key.removeprefix("params.data/"): value
        for key, value in sorted(run.items())
        if str(key).startswith("params.data/") and _listed(value) is not None
    }
    card = HERE / "cards" / f"{dataset}.md"
    return {
        "dataset": dataset,
        "task": splits.get("task", "unknown"),
        "target": run.get("params.dataset.target"),
        "num_classes": splits.get("num_classes"),
        "dropped_columns": _listed(run.get("params.dataset.drop_columns")),
        "data_params": splits,
        "card": card.read_text().strip() if card.is_file() else None,
    }


# A scikit-learn model's own options, shown in place of the optimizer and schedule that
# it ignores (its runs log them all the same).
SCIKIT_LEARN_TARGETS = {model._target_ for model in SCIKIT_LEARN_MODELS}
SCIKIT_LEARN_SETTINGS = [
    ("features", "params.model.vectorizer"),
    ("text field", "params.model.text_field"),
    ("categories, one-hot", "params.model.categories"),
    ("fields of comma-separated labels", "params.model.lists"),
    ("fields of short phrases", "params.model.phrases"),
    ("weight of each field beside the text", "params.model.field_weight"),
    ("largest n-gram", "params.model.ngram_max"),
    ("terms in at least this many texts", "params.model.min_df"),
    ("most frequent terms kept", "params.model.max_features"),
    ("classifier", "params.model.classifier"),
    ("C (inverse regularization)", "params.model.C"),
    ("C chosen on validation", "params.model.C_chosen"),
    ("class weights", "params.model.class_weight"),
]


def approach(run: pd.Series, varied: list[str]) -> dict:
    """Model, optimizer and schedule (or a scikit-learn model's own options); the
    options set on the command line; the command that reproduces the run, at its commit."""
    overrides = _user_overrides(run.get("tags.overrides") or "")
    return {
        "experiment": run.get("tags.experiment"),
        "settings": [(name, value) for name, value in _settings(run) if _present(value)],
        "overrides": overrides,
        "varied": varied,
        "command": " ".join(["python -m ml_experiments.train", *overrides]),
        "commit": run.get("tags.git_commit", "unknown"),
    }


def _settings(run: pd.Series) -> list[tuple[str, object]]:
    if run.get("params.model._target_") in SCIKIT_LEARN_TARGETS:
        model = [("model", run.get("tags.model")), ("fitted by", "scikit-learn")]
        return model + [(name, run.get(key)) for name, key in SCIKIT_LEARN_SETTINGS]
    return [
        ("model", run.get("tags.model")),
        ("optimizer", run.get("tags.optimizer")),
        ("learning rate", run.get("params.optimizer.lr")),
        ("weight decay", run.get("params.optimizer.weight_decay")),
        ("scheduler", run.get("tags.scheduler")),
        ("epochs (at most)", run.get("params.trainer.max_epochs")),
        ("batch size", run.get("params.trainer.batch_size")),
        ("early stopping patience", run.get("params.trainer.early_stopping.patience")),
    ]


def results_rows(table: pd.DataFrame, metric: str) -> list[dict]:
    """The configurations as table rows, formatted as the report prints them."""
    test = f"test/{metric[4:]} mean"
    return [
        {
            "rank": rank,
            "configuration": row["configuration"],
            "mean": number(row["mean"]),
            "std": number(row["std"]),
            "ci": interval_text(row),
            "n": int(row["n"]),
            "failed": int(row["failed"]),
            "test": number(row[test]) if test in row else "",
            "minutes": number(row["minutes"]),
        }
        for rank, row in table.iterrows()
    ]


def baselines(
    dataset: str,
    task: str,
    class_support: dict[str, int] | None,
    runs: pd.DataFrame | None = None,
    test_metric: str | None = None,
) -> dict:
    """A trivial baseline on the same split (what the runs computed, `baseline/test/*`,
    or what their class counts imply), and the published results of `baselines.yaml`."""
    import yaml

    published = yaml.safe_load((HERE / "baselines.yaml").read_text()).get(dataset, [])
    computed = _computed_baseline(runs, test_metric, task)
    if computed is not None:
        return {"trivial": computed, "published": published}
    trivial = None
    if class_support:
        majority = max(class_support, key=class_support.get)
        share = class_support[majority] / sum(class_support.values())
        trivial = f"always predicting the majority class ({majority}): test/acc {number(share)}"
    elif task == "regression":
        trivial = "always predicting the mean target scores R² ≈ 0 (0 exactly with the test mean)"
    return {"trivial": trivial, "published": published}


def _computed_baseline(runs: pd.DataFrame | None, test_metric: str | None, task: str):
    """The trivial model each run scored on its own test split: its mean over the runs."""
    column = f"metrics.baseline/{test_metric}" if test_metric else None
    if runs is None or column not in runs or runs[column].dropna().empty:
        return None
    values = runs[column].dropna()
    model = "the majority class" if task == "classification" else "the training mean"
    spread = f" (mean of {len(values)} runs' test splits)" if len(values) > 1 else ""
    return f"always predicting {model}: {test_metric} {number(values.mean())}{spread}"


def effects(board: pd.DataFrame, table: pd.DataFrame, keys: list[str], metric: str) -> list[str]:
    """A sentence per option that separates the best configuration from a neighbour (one
    that differs from it in that option only), with the difference and its interval;
    the runner-up when no configuration is a neighbour. For a recipe and its variants,
    a sentence per variant against the recipe instead."""
    base = _base_experiment(table, keys)
    if base is not None:
        direction = leaderboard.better(metric)
        variants = table[(table["n"] > 0) & (table["experiment"] != base["experiment"])]
        lines = [
            _effect_sentence(row, base, "experiment", board, metric, direction)
            for _, row in variants.iterrows()
        ]
    else:
        lines = _against_best(board, table, keys, metric)
    failed = table[table["n"] == 0]
    return lines + [
        f"`{row['configuration']}` did not work: all {row['failed']} of its runs failed "
        "(how, below)."
        for _, row in failed.iterrows()
    ]


def _against_best(board: pd.DataFrame, table: pd.DataFrame, keys: list[str], metric: str):
    """The best configuration against each neighbour, or the runner-up when none is."""
    best, direction = table.iloc[0], leaderboard.better(metric)
    others = table.iloc[1:][table.iloc[1:]["n"] > 0]
    neighbours = [(row, _one_difference(best, row, keys)) for _, row in others.iterrows()]
    chosen = [(row, key) for row, key in neighbours if key is not None]
    if not chosen and len(others):
        chosen = [(others.iloc[0], None)]
    return [_effect_sentence(best, row, key, board, metric, direction) for row, key in chosen]


def _base_experiment(table: pd.DataFrame, keys: list[str]) -> pd.Series | None:
    """When the configurations are experiments, one of them a recipe and the others its
    variants (`fashion_cnn`, `fashion_cnn_no_bn`, ...): the recipe's row, each variant
    being compared against it. None otherwise."""
    if keys != ["experiment"]:
        return None
    names = table["experiment"].astype(str)
    for index, name in names.items():
        others = names.drop(index)
        if table.loc[index, "n"] > 0 and len(others) and others.str.startswith(f"{name}_").all():
            return table.loc[index]
    return None


def failures(runs: pd.DataFrame) -> list[dict]:
    """Every run that did not finish, with how it ended (its `end_reason` tag)."""
    failed = runs[runs["status"] != "FINISHED"]
    reasons = failed.get("tags.end_reason", pd.Series(index=failed.index, dtype=object))
    return [
        {
            "run": row["tags.mlflow.runName"],
            "status": row["status"],
            "reason": _first_sentence(reasons[index]),
        }
        for index, row in failed.iterrows()
    ]


@dataclass
class Training:
    """What the metric histories say about how the finished runs trained."""

    epochs: dict[str, int]  # run id -> epochs it trained, for runs with a history
    stopped_early: list[str]  # run ids that ended before trainer.max_epochs
    patience: str | None
    improving: list[str]  # names of runs whose best epoch was their last
    gap: tuple[int, float, float] | None  # the best run's (best epoch, train loss, val loss)

    @property
    def overfitting(self) -> bool:
        return self.gap is not None and self.gap[2] > GAP_RATIO * max(self.gap[1], 1e-12)


def training(runs: pd.DataFrame, evidence: Evidence, best_id: str) -> Training:
    """Early stopping, runs still improving at their last epoch, and the best run's
    training and validation loss at its best epoch; from the metric histories."""
    finished = runs[runs["status"] == "FINISHED"].set_index("run_id")
    in_epochs = finished.get("params.model._target_", pd.Series(index=finished.index))
    in_epochs = ~in_epochs.isin(SCIKIT_LEARN_TARGETS)  # scikit-learn fits in one go
    epochs = {
        run_id: len(evidence.histories.get(run_id, {}).get("val/loss", []))
        for run_id in finished.index[in_epochs]
    }
    epochs = {run_id: count for run_id, count in epochs.items() if count}
    limits = pd.to_numeric(finished.get("params.trainer.max_epochs"), errors="coerce")
    stopped = [run_id for run_id, count in epochs.items() if count < limits.get(run_id, 0)]
    best_epochs = pd.to_numeric(finished.get("metrics.best_epoch"), errors="coerce")
    # A run of one epoch has no curve: its best epoch is its last by default.
    improving = [
        finished.loc[run_id, "tags.mlflow.runName"]
        for run_id, count in epochs.items()
        if count > 1 and best_epochs is not None and best_epochs.get(run_id) == count
    ]
    patience = finished.get("params.trainer.early_stopping.patience")
    return Training(
        epochs,
        stopped,
        None if patience is None else str(patience.iloc[0]),
        improving,
        _gap(finished.loc[best_id], evidence.histories.get(best_id, {})),
    )


def training_notes(facts: Training) -> list[str]:
    """The facts of `training` as sentences."""
    if not facts.epochs:
        return []
    notes = [_early_stopping_note(facts)]
    single = sum(count == 1 for count in facts.epochs.values())
    if single:
        notes.append(
            f"{single} of {len(facts.epochs)} runs trained a single epoch: whether more epochs "
            "would help cannot be told from their curves."
        )
    if facts.improving:
        count = len(facts.improving)
        which = "all" if count == len(facts.epochs) else f"{count} of {len(facts.epochs)}"
        named = "; ".join(facts.improving[:NAMED_RUNS])
        more = f"; and {count - NAMED_RUNS} more" if count > NAMED_RUNS else ""
        notes.append(
            f"Still improving at their last epoch (best epoch = last): {which} runs "
            f"({named}{more})."
        )
    if facts.gap is not None:
        epoch, train_loss, val_loss = facts.gap
        verdict = "overfitting" if facts.overfitting else "no sign of overfitting"
        notes.append(
            f"At its best epoch ({epoch}) the best run's training loss was {number(train_loss)} "
            f"and its validation loss {number(val_loss)}: {verdict} (read as overfitting when "
            f"the validation loss is over {GAP_RATIO}x the training loss)."
        )
    return notes


def next_steps(
    table: pd.DataFrame, effect_lines: list[str], facts: Training, diverged: int, keys: list[str]
) -> list[str]:
    """What the evidence suggests trying next, each with the evidence it follows from."""
    best = table.iloc[0]
    steps = []
    if table["n"].max() < 2:
        steps.append(
            "Run every configuration with three or more seeds (`seed=0,1,2`): with one seed "
            "no difference between configurations can be judged."
        )
    if any("within noise" in line for line in effect_lines):
        steps.append(
            "Some differences are within noise: run more seeds to narrow the intervals, or "
            "try values further apart."
        )
    steps += [_edge_step(best, table, key) for key in keys]
    if facts.improving:
        steps.append("Runs were still improving at their last epoch: raise `trainer.max_epochs`.")
    if diverged:
        steps.append(
            f"{diverged} run(s) diverged: keep the learning rate below the values that "
            "diverged, or set `trainer.gradient_clip_norm`."
        )
    if facts.overfitting:
        steps.append(
            "The validation loss is well above the training loss: try regularisation (weight "
            "decay, augmentation, dropout) before a bigger model."
        )
    return [step for step in steps if step] or [
        "The evidence points at no one change: sweep a new option (learning rate, schedule, "
        "model size) with three seeds."
    ]


def figures(ranking: Ranking, evidence: Evidence, metric: str) -> dict:
    """Figures by file name: learning curves of the best configuration against the others,
    the metric against each varied option, and the best run's own curves."""
    board, table, keys = ranking.board, ranking.table, ranking.keys
    drawn = {}
    by_configuration = {
        row["configuration"]: [evidence.histories.get(i, {}) for i in row["run_ids"].split()]
        for _, row in table.iterrows()
    }
    if any(history for runs in by_configuration.values() for history in runs):
        best = table.iloc[0]["configuration"]
        drawn["curves_best_vs_others"] = report_figures.curves_by_configuration(
            by_configuration, best, metric
        )
    finished = board[board["status"] == "FINISHED"]
    if keys and len(finished) > 1:
        drawn["metric_vs_options"] = viz.metric_vs_params(finished, metric, keys)
    best_history = evidence.histories.get(ranking.best_id, {})
    if "train/loss" in best_history:
        drawn["best_run_curves"] = viz.learning_curves(best_history, metric)
    return drawn


# --- writing --------------------------------------------------------------------------


def write_report(source: Source, ranking: Ranking, evidence: Evidence, folder: Path) -> Written:
    """report.md with figures/*.png beside it, report.html with the figures inside it, and
    summary.json for the portfolio, in `folder`."""
    context = _context(source, ranking, evidence)
    shutil.rmtree(folder / "figures", ignore_errors=True)  # a rewrite keeps no stale figure
    (folder / "figures").mkdir(parents=True)
    context["figures"] = _save_figures(ranking, evidence, source.metric, folder)
    markdown = folder / "report.md"
    markdown.write_text(_render("report.md.j2", context))
    html = folder / "report.html"
    html.write_text(page_html(markdown.read_text(), folder, context["title"]))
    summary = {"title": source.title, "kind": source.kind, "headline": context["headline"]}
    summary["written"] = time.strftime("%Y-%m-%d %H:%M")
    (folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return Written(markdown, html, context["headline"])


def _context(source: Source, ranking: Ranking, evidence: Evidence) -> dict:
    board, table, keys, best_id = ranking.board, ranking.table, ranking.keys, ranking.best_id
    run = source.runs.set_index("run_id").loc[best_id]
    data = problem(run)
    effect_lines = effects(board, table, keys, source.metric)
    facts = training(source.runs, evidence, best_id)
    failed = failures(source.runs)
    diverged = sum(row["reason"].startswith("TrainingDiverged") for row in failed)
    test_metric = f"test/{source.metric[4:]}" if source.metric.startswith("val/") else None
    return {
        "title": source.title,
        "kind": source.kind,
        "metric": source.metric,
        "better": leaderboard.better(source.metric),
        "method": statistics.METHOD,
        "headline": headline(table, source.metric),
        "runs": len(source.runs),
        "configurations": len(table),
        "single_seed": table["n"].max() < 2,
        "sweep_command": " ".join(_user_overrides(source.sweep_command or "")),
        "problem": data,
        "approach": approach(run, keys),
        "best_run": {"id": best_id, "name": run.get("tags.mlflow.runName")},
        "results": results_rows(table, source.metric),
        "test_metric": test_metric,
        "baselines": baselines(
            data["dataset"], data["task"], evidence.class_support, source.runs, test_metric
        ),
        "effects": effect_lines,
        "failures": failed,
        "notes": training_notes(facts),
        "next_steps": next_steps(table, effect_lines, facts, diverged, keys),
    }


def _save_figures(ranking: Ranking, evidence: Evidence, metric: str, folder: Path) -> list[str]:
    names = []
    for name, figure in figures(ranking, evidence, metric).items():
        figure.savefig(folder / "figures" / f"{name}.png", dpi=100, bbox_inches="tight")
        viz.close(figure)
        names.append(name)
    if evidence.confusion_matrix is not None:
        target = folder / "figures" / "confusion_matrix.png"
        target.write_bytes(evidence.confusion_matrix)
        names.append("confusion_matrix")
    return names


def page_html(markdown: str, folder: Path, title: str) -> str:
    """The Markdown as one HTML page with every image inside it (base64), so the page
    makes no request to any host and opens from a phone's files."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark").enable("table")
    tokens = parser.parse(markdown)
    for token in tokens:
        for child in token.children or []:
            if child.type == "image":
                child.attrSet("src", _data_uri(folder / str(child.attrGet("src"))))
    body = parser.renderer.render(tokens, parser.options, {})
    return _render("page.html.j2", {"title": title, "body": body})


def write_portfolio(reports_dir: Path) -> tuple[Path, Path]:
    """index.md and index.html in `reports_dir`: every report written there, with its
    headline, newest first."""
    entries = []
    for summary in sorted(reports_dir.glob(f"*/{SUMMARY_FILE}")):
        entry = json.loads(summary.read_text())
        entries.append(entry | {"folder": summary.parent.name})
    if not entries:
        raise ConfigError(
            f"no reports in {reports_dir} yet. Write one first: python -m ml_experiments.report "
            "parent=<sweep run id>, experiment=<name> or run=<run id>."
        )
    entries.sort(key=lambda entry: entry["written"], reverse=True)
    markdown = reports_dir / "index.md"
    markdown.write_text(_render("portfolio.md.j2", {"entries": entries, "page": "report.md"}))
    html = reports_dir / "index.html"
    listing = _render("portfolio.md.j2", {"entries": entries, "page": "report.html"})
    html.write_text(page_html(listing, reports_dir, "Reports"))
    return markdown, html


# --- formatting -----------------------------------------------------------------------


def number(value) -> str:
    """Four significant digits, as every table of the project shows numbers; – for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)


def interval_text(row: pd.Series) -> str:
    if row["n"] < 2:
        return "–"
    return f"[{number(row['ci_low'])}, {number(row['ci_high'])}]"


def _render(template: str, context: dict) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,  # a name the context lacks is a bug, not a blank
        autoescape=template.endswith(".html.j2"),
    )
    environment.filters["cell"] = lambda value: str(value).replace("|", "\\|")
    return environment.get_template(template).render(context)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _effect_sentence(best, other, key, board, metric, direction) -> str:
    change = statistics.difference(
        leaderboard.seed_values(best, board, metric), leaderboard.seed_values(other, board, metric)
    )
    what = (
        f"`{key}={best[key]}` rather than `{other[key]}`"
        if key
        else f"the best configuration against the runner-up ({other['configuration']})"
    )
    how = f"paired over {change.n} seeds" if change.paired else f"unpaired, n={change.n}"
    bounds = f"95% CI [{number(change.low)}, {number(change.high)}], {how}"
    if not change.judgeable:
        bounds = "one seed"
    return (
        f"{what}: {metric} {number(best['mean'])} vs {number(other['mean'])}, difference "
        f"{number(change.estimate)} ({bounds}): {statistics.verdict(change, direction)}."
    )


def _one_difference(best: pd.Series, other: pd.Series, keys: list[str]) -> str | None:
    """The one option in which two configurations differ, or None."""
    differing = [key for key in keys if str(best[key]) != str(other[key])]
    return differing[0] if len(differing) == 1 else None


def _early_stopping_note(facts: Training) -> str:
    if not facts.stopped_early:
        return f"No run stopped early: all {len(facts.epochs)} trained to `trainer.max_epochs`."
    counts = ", ".join(str(facts.epochs[run_id]) for run_id in facts.stopped_early)
    return (
        f"Early stopping ended {len(facts.stopped_early)} of {len(facts.epochs)} runs before "
        f"`trainer.max_epochs` (patience {facts.patience}), after {counts} epochs."
    )


def _gap(run: pd.Series, history: dict[str, list[float]]) -> tuple[int, float, float] | None:
    """(best epoch, training loss, validation loss) at the run's best epoch, when logged."""
    epoch = run.get("metrics.best_epoch")
    train, val = history.get("train/loss", []), history.get("val/loss", [])
    if not _present(epoch) or not 1 <= int(epoch) <= min(len(train), len(val)):
        return None
    return int(epoch), train[int(epoch) - 1], val[int(epoch) - 1]


def _edge_step(best: pd.Series, table: pd.DataFrame, key: str) -> str | None:
    """When the best value of a numeric option is the largest or smallest tried and others
    finished, the sweep may not have reached the best value yet."""
    tried = pd.to_numeric(table.loc[table["n"] > 0, key], errors="coerce").dropna()
    value = pd.to_numeric(pd.Series([best[key]]), errors="coerce").iloc[0]
    if len(tried) < 2 or math.isnan(value) or tried.min() < value < tried.max():
        return None
    side = "largest" if value == tried.max() else "smallest"
    return f"The best `{key}` ({best[key]}) is the {side} that finished: extend the sweep past it."


def _user_overrides(overrides: str) -> list[str]:
    return [item for item in overrides.split() if not item.startswith(WHERE_PREFIXES)]


def _listed(value) -> str | None:
    text = str(value) if _present(value) else ""
    return None if text in {"", "[]", "None"} else text


def _present(value) -> bool:
    if value is None or value == "None":  # a param logged as None: not set
        return False
    return not (isinstance(value, float) and math.isnan(value))


def _first_sentence(reason) -> str:
    if not isinstance(reason, str) or not reason:
        return "no end reason logged"
    return reason.split(". ")[0][:300]
