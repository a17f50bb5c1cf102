"""The MLflow UI, started by `python -m ml_experiments.ui`, shows a sweep's parent run, its
children and their metrics in a real headless Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.running import PROJECT_ROOT, sweep_runs

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def mlflow_ui(store, tmp_path):
    port = free_port()
    log = (tmp_path / "ui.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "ml_experiments.ui", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=os.environ | {"MLFLOW_TRACKING_URI": store.uri},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so all of it can be stopped
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert server.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(answers, 90, f"the MLflow UI at {url}")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail(
            f"the browser test drives Debian's Chromium ({CHROMIUM}) and ChromeDriver "
            f"({CHROMEDRIVER}); install them with `apt-get install chromium chromium-driver` "
            "(bash .ci/run does)."
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # No calls home: the machine has no network beyond the package registries.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1600,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


@pytest.mark.slow
def test_the_ui_shows_the_sweep_its_children_and_their_metrics(
    grid_sweep, store, mlflow_ui, browser, test_artifacts
):
    from selenium.webdriver.common.by import By

    parent, children = sweep_runs(store, "grid_sweep")
    experiment = parent.info.experiment_id
    browser.get(f"{mlflow_ui}/#/experiments/{experiment}/runs")
    wait_until(lambda: parent.info.run_name in page_text(browser), 60, "the parent run's row")

    # Children are folded under their parent: unfold them.
    row = browser.find_element(By.CSS_SELECTOR, f"[role='row'][row-id='{parent.info.run_id}']")
    row.find_element(By.TAG_NAME, "button").click()
    names = [child.info.run_name for child in children]
    wait_until(lambda: all(name in page_text(browser) for name in names), 30, "the child runs")
    browser.save_screenshot(str(test_artifacts / "mlflow_ui_sweep.png"))

    best = next(child for child in children if child.info.run_id == parent.data.tags["best_run_id"])
    browser.get(f"{mlflow_ui}/#/experiments/{experiment}/runs/{best.info.run_id}")
    wait_until(lambda: "best/val/rmse" in page_text(browser), 60, "the best run's metrics")
    shown = page_text(browser)
    assert best.info.run_name in shown
    assert f"{best.data.metrics['best/val/rmse']:.6}"[:6] in shown
    browser.save_screenshot(str(test_artifacts / "mlflow_ui_best_run.png"))
