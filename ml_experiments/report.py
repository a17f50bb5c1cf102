"""Write a report: `python -m ml_experiments.report parent=<sweep run id>` (or
`experiment=<name>`, `run=<run id>`, `portfolio=true`).

Reads the runs from MLflow (`tracking.report_runs`), ranks their configurations with
seeds aggregated, and writes a blog-style report (`reporting.reports`) as report.md
with its figures and one self-contained report.html under
`<outputs_dir>/reports/<name>/`; logs both to the sweep's parent run (`parent=`) or to
the run (`run=`). `portfolio=true` writes an index of every report written so far.
See docs/reports.md.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from ml_experiments import paths
from ml_experiments.config.build import StoreOptions, key_value_options
from ml_experiments.errors import ConfigError, exit_on_user_error
from ml_experiments.reporting import reports
from ml_experiments.tracking import report_runs, store

log = logging.getLogger("ml_experiments.report")


@dataclass
class ReportOptions(StoreOptions):
    """`key=value` arguments: what to report on (exactly one of parent, experiment, run,
    portfolio), by which metric, and where the store and the outputs are."""

    parent: str | None = None  # a sweep's parent run id: report its children
    experiment: str | None = None  # an MLflow experiment name: report all its runs
    run: str | None = None  # one run id
    portfolio: bool = False  # an index of every report written so far
    metric: str | None = None  # default: the runs' optimized_metric
    max_runs: int = 1000


def main(arguments: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with exit_on_user_error(log):
        options = parse_options(arguments)
        reports_dir = Path(options.paths.outputs_dir) / "reports"
        if options.portfolio:
            for written in reports.write_portfolio(reports_dir):
                print(f"wrote {written}")
        else:
            report(options, reports_dir)


def parse_options(arguments: list[str]) -> ReportOptions:
    options = key_value_options(ReportOptions, arguments, verbatim=("parent", "run"))
    chosen = [key for key in ("parent", "experiment", "run") if getattr(options, key)]
    if len(chosen) + options.portfolio != 1:
        raise ConfigError(
            "name one thing to report: parent=<sweep run id>, experiment=<name>, "
            f"run=<run id> or portfolio=true (got {', '.join(chosen) or 'none'})."
        )
    return options


def report(options: ReportOptions, reports_dir: Path) -> reports.Written:
    """Write the report of the runs `options` name; log it to their parent or run."""
    import mlflow

    store.prepare_store(options.tracking_uri)
    client = mlflow.MlflowClient(options.tracking_uri)
    selection = _selection(client, options)
    metric = options.metric or selection.default_metric or "val/loss"
    source = reports.Source(
        selection.title, _kind(options), selection.runs, metric, selection.sweep_command
    )
    ranking = reports.rank(source)
    finished = ranking.board.loc[ranking.board["status"] == "FINISHED", "run_id"].tolist()
    evidence = report_runs.evidence_for(client, finished, ranking.best_id, metric)
    folder = reports_dir / paths.safe_folder_name(selection.name)
    written = reports.write_report(source, ranking, evidence, folder)
    print(f"{selection.title}: {written.headline}")
    print(f"wrote {written.markdown}\nwrote {written.html}")
    if selection.log_to:
        report_runs.log_report(client, selection.log_to, folder)
        print(f"logged to run {selection.log_to} under {report_runs.REPORT_FOLDER}/")
    return written


def _selection(client, options: ReportOptions) -> report_runs.Selection:
    if options.parent:
        return report_runs.sweep_selection(client, options.parent, options.tracking_uri)
    if options.run:
        return report_runs.run_selection(client, options.run, options.tracking_uri)
    return report_runs.experiment_selection(
        client, options.experiment, options.tracking_uri, options.max_runs
    )


def _kind(options: ReportOptions) -> str:
    return "sweep" if options.parent else "run" if options.run else "experiment"


if __name__ == "__main__":
    main(sys.argv[1:])
