"""Reports through the real entry point: one Boston sweep with three seeds and a diverging
learning rate, reported with `python -m ml_experiments.report parent=<id>`; its numbers
against MLflow's, its verdicts, the HTML page in headless Chromium, and each error."""

from __future__ import annotations

import csv
import json
import logging
import re

import numpy as np
import pytest
from scipy import stats

from ml_experiments import report
from tests.e2e.test_ui import browser  # noqa: F401  (the fixture: headless Chromium)
from tests.helpers.running import DIVERGING_LR, artifact_paths, run_module, sweep_runs

pytestmark = pytest.mark.slow

SWEEP = [
    "-m",
    "experiment=boston_linear",
    "name=report_sweep",
    f"optimizer.lr=0.01,0.05,{DIVERGING_LR}",
    "seed=0,1,2",
    "trainer.max_epochs=20",
    "logger.log_model=false",
]
METRIC = "best/val/rmse"  # what the sweep ranks by: val/rmse at each run's best epoch


@pytest.fixture(scope="module")
def seeded_sweep(store, shared_data, tmp_path_factory):
    """The sweep, and its report: (parent run, children, outputs folder, report's output)."""
    outputs = tmp_path_factory.mktemp("report_sweep")
    run_module("train", SWEEP, store, shared_data, outputs)
    parent, children = sweep_runs(store, "report_sweep")
    result = run_module("report", [f"parent={parent.info.run_id}"], store, shared_data, outputs)
    return parent, children, outputs, result.output


def report_folder(outputs, parent) -> tuple:
    folder = outputs / "outputs" / "reports" / f"report_sweep_sweep_{parent.info.run_id[:8]}"
    return folder, (folder / "report.md").read_text()


def by_learning_rate(children) -> dict[str, dict[str, float]]:
    """{lr: {seed: best/val/rmse}} of the finished children, read from MLflow."""
    grouped: dict[str, dict[str, float]] = {}
    for child in children:
        if child.info.status == "FINISHED":
            lr = child.data.params["optimizer.lr"]
            grouped.setdefault(lr, {})[child.data.params["seed"]] = child.data.metrics[METRIC]
    return grouped


def number(value: float) -> str:
    return f"{value:.4g}"


def section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}")[1].split("\n## ")[0]


def test_the_report_says_where_it_wrote_and_logs_to_the_parent(seeded_sweep, store):
    parent, _, outputs, output = seeded_sweep
    folder, _ = report_folder(outputs, parent)
    assert f"wrote {folder / 'report.md'}" in output
    assert f"wrote {folder / 'report.html'}" in output
    assert f"logged to run {parent.info.run_id} under report/" in output
    logged = artifact_paths(store, parent.info.run_id, "report")
    assert {"report/report.md", "report/report.html", "report/figures"} <= logged
    figures = artifact_paths(store, parent.info.run_id, "report/figures")
    assert "report/figures/curves_best_vs_others.png" in figures
    assert (folder / "figures" / "metric_vs_options.png").is_file()


def test_the_configurations_hold_mlflows_numbers_and_a_t_interval(seeded_sweep):
    parent, children, outputs, _ = seeded_sweep
    _, markdown = report_folder(outputs, parent)
    results = section(markdown, "Results")
    for lr, seeds in by_learning_rate(children).items():
        values = np.array(list(seeds.values()))
        interval = stats.t.interval(0.95, len(values) - 1, values.mean(), stats.sem(values))
        row = next(line for line in results.splitlines() if f"optimizer.lr={lr} |" in line)
        cells = [cell.strip() for cell in row.split("|")]
        assert cells[3:8] == [
            number(values.mean()),
            number(values.std(ddof=1)),
            f"[{number(interval[0])}, {number(interval[1])}]",
            "3",
            "0",
        ], row
    diverging = next(line for line in results.splitlines() if f"={DIVERGING_LR} |" in line)
    assert [cell.strip() for cell in diverging.split("|")][6:8] == ["0", "3"]  # n, failed


def test_the_best_configuration_is_reproducible_from_the_report(seeded_sweep):
    parent, children, outputs, _ = seeded_sweep
    _, markdown = report_folder(outputs, parent)
    means = {lr: np.mean(list(s.values())) for lr, s in by_learning_rate(children).items()}
    best_lr = min(means, key=means.get)
    assert f"**optimizer.lr={best_lr}: val/rmse {number(means[best_lr])} (95% CI" in markdown
    approach = section(markdown, "Approach and key decisions")
    assert f"git checkout {children[0].data.tags['git_commit'].removesuffix('-dirty')}" in approach
    assert re.search(rf"python -m ml_experiments.train .*optimizer.lr={best_lr} seed=\d", approach)
    assert "paths.outputs_dir" not in approach.split("```bash")[1]
    problem = section(markdown, "The problem")
    train_rows = children[0].data.params["data/train_rows"]
    assert f"| `data/train_rows` | {train_rows} |" in problem
    assert "`B` column" in problem  # the data set's card


def test_what_worked_names_the_divergence_and_the_noise(seeded_sweep):
    parent, children, outputs, _ = seeded_sweep
    _, markdown = report_folder(outputs, parent)
    worked = section(markdown, "What worked and what didn't")
    for child in children:
        if child.info.status == "FAILED":
            assert child.info.run_name in worked
    assert worked.count("| FAILED | TrainingDiverged: ") == 3
    # 0.01 against 0.05: paired over the same three seeds, the interval holds zero.
    grouped = by_learning_rate(children)
    seeds = sorted(grouped["0.01"])
    differences = [grouped["0.01"][s] - grouped["0.05"][s] for s in seeds]
    low, high = stats.t.interval(0.95, 2, np.mean(differences), stats.sem(differences))
    assert low < 0 < high
    line = next(line for line in worked.splitlines() if "rather than" in line)
    assert line.endswith("within noise (n=3).") and "paired over 3 seeds" in line


def test_the_html_page_is_whole_and_requests_nothing(seeded_sweep, browser):  # noqa: F811
    parent, _, outputs, _ = seeded_sweep
    folder, _ = report_folder(outputs, parent)
    page = (folder / "report.html").read_text()
    assert "http://" not in page.split("<body>")[0] and 'src="http' not in page
    browser.get((folder / "report.html").as_uri())
    shown = browser.find_element("tag name", "body").text
    assert "What worked and what didn't" in shown
    images = browser.execute_script(
        "return [...document.images].map(i => [i.src.slice(0, 22), i.naturalWidth])"
    )
    assert images and all(src == "data:image/png;base64," and w > 0 for src, w in images)
    requested = browser.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)"
    )
    assert requested == [], requested  # the page and its images come from the one file
    browser.set_window_size(390, 844)  # a phone: the text fits, wide tables scroll alone
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )


def test_compare_aggregates_the_seeds(seeded_sweep, store, shared_data):
    parent, children, outputs, _ = seeded_sweep
    result = run_module(
        "compare", [f"parent={parent.info.run_id}"], store, shared_data, outputs / "compare"
    )
    assert "3 configurations, seeds aggregated" in result.output
    saved = next((outputs / "compare" / "outputs" / "compare").glob("*/configurations.csv"))
    with saved.open() as file:
        rows = {row["optimizer.lr"]: row for row in csv.DictReader(file)}
    for lr, seeds in by_learning_rate(children).items():
        assert float(rows[lr]["mean"]) == pytest.approx(np.mean(list(seeds.values())))
        assert rows[lr]["n"] == "3"
    assert rows[str(DIVERGING_LR)]["failed"] == "3"
    assert "summary/configurations.csv" in artifact_paths(store, parent.info.run_id, "summary")


def test_an_experiment_a_run_and_the_portfolio(seeded_sweep, store, capsys):
    parent, _, outputs, _ = seeded_sweep
    where = [f"tracking_uri={store.uri}", f"paths.outputs_dir={outputs / 'outputs'}"]
    report.main([*where, "experiment=report_sweep"])
    best_id = parent.data.tags["best_run_id"]
    report.main([*where, f"run={best_id}"])
    assert "(one seed)" in capsys.readouterr().out
    assert "report/report.html" in artifact_paths(store, best_id, "report")
    report.main([*where, "portfolio=true"])
    reports = outputs / "outputs" / "reports"
    index = (reports / "index.md").read_text()
    for folder in ("report_sweep", f"report_sweep_run_{best_id[:8]}"):
        summary = json.loads((reports / folder / "summary.json").read_text())
        assert f"({folder}/report.md)" in index and summary["headline"] in index
    assert "report.html" in (reports / "index.html").read_text()


def test_an_error_is_one_line_without_a_traceback(seeded_sweep, store, shared_data, tmp_path):
    result = run_module(
        "report", ["experiment=nope"], store, shared_data, tmp_path, expect_success=False
    )
    assert result.returncode == 1 and "Traceback" not in result.output
    assert "no MLflow experiment named 'nope'" in result.output
    assert "report_sweep" in result.output  # the experiments that exist


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "name one thing to report: parent=<sweep run id>"),
        (["experiment=empty_experiment"], "'empty_experiment' has no runs to report"),
        (["parent=" + "0" * 32], f"no MLflow run with id {'0' * 32}"),
        (["run=" + "0" * 32], "Experiments in the store:"),
        (["experiment=report_sweep", "metric=val/acc"], "no run logged the metric 'val/acc'"),
        (["experiment=report_sweep", "metric=best_epoch"], "cannot tell whether a higher"),
        (["portfolio=true"], "no reports in"),
    ],
)
def test_report_says_what_is_wrong(seeded_sweep, store, tmp_path, caplog, arguments, message):
    if "experiment=empty_experiment" in arguments and not store.client().get_experiment_by_name(
        "empty_experiment"
    ):
        store.client().create_experiment("empty_experiment")
    options = [f"tracking_uri={store.uri}", f"paths.outputs_dir={tmp_path}", *arguments]
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_:
        report.main(options)
    assert exit_.value.code == 1
    assert message in caplog.text


def test_a_parent_without_children_is_named(seeded_sweep, store, tmp_path, caplog):
    _, children, _, _ = seeded_sweep
    child = children[0].info.run_id
    options = [f"tracking_uri={store.uri}", f"paths.outputs_dir={tmp_path}", f"parent={child}"]
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit):
        report.main(options)
    assert f"run {child} has no child runs" in caplog.text and f"run={child}" in caplog.text
