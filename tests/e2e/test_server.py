"""`python -m ml_experiments.server`: the real PostgreSQL 15 behind the real `mlflow server`,
under a parallel sweep and a run that logs every epoch, through a stop and a start, and
with PostgreSQL killed under a run.

One server serves the whole file (starting one takes about 20 s on 2 cores); each test
leaves it running.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.helpers.running import (
    PROJECT_ROOT,
    Store,
    run_module,
    sweep_runs,
    train_arguments,
    train_environment,
)

pytestmark = pytest.mark.slow

START_SECONDS = 240  # a first start makes the cluster and the schema: ~20 s, more when busy
STEPS = 300  # epochs of the run that logs every epoch: one step of each metric per epoch
SWEEP_EPOCHS = 5
SWEEP = [
    "-m",
    "experiment=boston_linear",
    "name=server_sweep",
    "optimizer.lr=0.01,0.03",
    "seed=1,2,3,4",
    f"trainer.max_epochs={SWEEP_EPOCHS}",
    "logger.log_model=false",
    "logger.log_figures=false",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
]
EVERY_EPOCH = [
    "experiment=boston_linear",
    "name=server_steps",
    f"trainer.max_epochs={STEPS}",
    "trainer.early_stopping.enabled=false",
    "logger.log_model=false",
]
# A store that stops answering fails a request after one retry, not MLflow's default seven
# (about four minutes of backing off).
FEW_RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class ServerProcess:
    """`python -m ml_experiments.server` in the background, its output in a file."""

    def __init__(self, outputs: Path, port: int):
        self.outputs, self.port = outputs, port
        self.uri = f"http://127.0.0.1:{port}"
        self.log = outputs / "server_output.txt"
        self.process: subprocess.Popen | None = None
        self.started: set[int] = set()  # its processes, as of remember_processes()

    def command(self, outputs: Path | None = None, port: int | None = None) -> list[str]:
        return [
            sys.executable,
            "-m",
            "ml_experiments.server",
            "--outputs-dir",
            str(outputs or self.outputs),
            "--port",
            str(port or self.port),
        ]

    def start(self) -> None:
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                self.command(), cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT
            )
        wait_until(self._ready, START_SECONDS, f"the server to start; it wrote:\n{self.log}")

    def _ready(self) -> bool:
        output = self.output()
        assert self.process.poll() is None, f"the server stopped:\n{output[-3000:]}"
        return f"export MLFLOW_TRACKING_URI={self.uri}" in output

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        self.remember_processes()
        self.process.send_signal(signal.SIGTERM)
        return self.wait_for_exit()

    def wait_for_exit(self) -> int:
        return self.process.wait(timeout=120)

    def output(self) -> str:
        return self.log.read_text()

    def postmaster_pid(self) -> int:
        return int((self.outputs / "postgres/data/postmaster.pid").read_text().split()[0])

    def remember_processes(self) -> None:
        """Note every process the server has started so far (PostgreSQL's and uvicorn's
        children name neither its folder nor its port), to look for them after a stop."""
        children = {}
        for pid, parent, _ in live_processes():
            children.setdefault(parent, []).append(pid)
        waiting, self.started = [self.process.pid], set()
        while waiting:
            pid = waiting.pop()
            self.started.add(pid)
            waiting += children.get(pid, [])

    def leftover_processes(self) -> list[str]:
        """Processes of this server still alive: those it had started, and any naming its
        folder or its port."""
        port_argument = f"--port\0{self.port}\0".encode()
        return [
            command.replace(b"\0", b" ").decode()[:200]
            for pid, _, command in live_processes()
            if pid in self.started
            or str(self.outputs).encode() in command
            or port_argument in command
        ]


def live_processes() -> list[tuple[int, int, bytes]]:
    """(pid, parent pid, command line) of every process but zombies and this one."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes()
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue
        if state != "Z" and int(entry.name) != os.getpid():
            found.append((int(entry.name), int(parent), command))
    return found


@pytest.fixture(scope="module")
def server():
    # A folder PostgreSQL's own user can reach when the tests run as root: pytest's
    # temporary folders are closed to other users.
    outputs = Path(tempfile.mkdtemp(prefix="mlx_server_"))
    outputs.chmod(0o711)
    running = ServerProcess(outputs, free_port())
    running.start()
    yield running
    if running.process.poll() is None:
        running.stop()
    shutil.rmtree(outputs, ignore_errors=True)


@contextmanager
def training(overrides: list[str], server: ServerProcess, data: Path, outputs: Path):
    """`python -m ml_experiments.train` in the background against the server; killed at
    the end if it still runs, whatever the test found."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ml_experiments.train", *train_arguments(outputs, overrides)],
        cwd=PROJECT_ROOT,
        env=train_environment(Store(server.uri, server.outputs), data) | FEW_RETRIES,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def output_when_done(process: subprocess.Popen, timeout: float, what: str) -> str:
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: still running after {timeout:.0f} s")


def steps(store: Store, run_id: str, metric: str) -> list[int]:
    return sorted(point.step for point in store.client().get_metric_history(run_id, metric))


def run_ids(store: Store, *experiments: str) -> set[str]:
    return {run.info.run_id for name in experiments for run in store.runs(name)}


def test_a_second_server_on_the_same_folder_or_port_is_refused(server, tmp_path):
    same_folder = subprocess.run(
        server.command(port=free_port()), cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert same_folder.returncode == 1
    assert f"a server already runs on {server.outputs.resolve()}" in same_folder.stderr
    assert server.uri in same_folder.stderr  # which one, so it can be used
    same_port = subprocess.run(
        server.command(outputs=tmp_path), cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert same_port.returncode == 1
    assert f"port {server.port} on 127.0.0.1 is taken" in same_port.stderr
    assert "Traceback" not in same_folder.stderr + same_port.stderr


def test_a_parallel_sweep_and_a_run_logging_every_epoch_lose_nothing_through_a_restart(
    server, shared_data, tmp_path
):
    store = Store(server.uri, server.outputs)
    with training(EVERY_EPOCH, server, shared_data, tmp_path / "every_epoch") as every_epoch:
        run_module("train", SWEEP, store, shared_data, tmp_path / "sweep", timeout=600)
        output = output_when_done(every_epoch, 300, "the run of every epoch")
    assert every_epoch.returncode == 0, output[-4000:]

    parent, children = sweep_runs(store, "server_sweep")
    assert [child.info.status for child in children] == ["FINISHED"] * 8
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["launcher"] == "JoblibLauncher"
    for child in children:
        assert steps(store, child.info.run_id, "val/rmse") == list(range(1, SWEEP_EPOCHS + 1))
    run = store.only_run("server_steps")
    assert steps(store, run.info.run_id, "train/loss") == list(range(1, STEPS + 1))
    check_artifacts_go_through_the_server(server, run, tmp_path / "downloaded")

    before = run_ids(store, "server_sweep", "server_steps")
    assert len(before) == 10  # the sweep's parent, its 8 children, the run of every epoch
    assert server.stop() == 0
    assert "stopped by SIGTERM" in server.output()
    assert server.leftover_processes() == []
    assert port_is_free(server.port)
    assert not (server.outputs / "postgres/data/postmaster.pid").exists()  # a clean shutdown

    server.start()
    assert run_ids(store, "server_sweep", "server_steps") == before
    assert steps(store, run.info.run_id, "train/loss") == list(range(1, STEPS + 1))


def check_artifacts_go_through_the_server(server: ServerProcess, run, downloads: Path) -> None:
    """Sent to the server (proxied), written into its folder, and read back through it."""
    import mlflow

    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    config = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id,
        artifact_path="config/config_resolved.yaml",
        dst_path=str(downloads),
        tracking_uri=server.uri,
    )
    assert yaml.safe_load(Path(config).read_text())["trainer"]["max_epochs"] == STEPS
    stored = server.outputs / "postgres" / "artifacts"
    assert list(stored.glob(f"*/{run.info.run_id}/artifacts/config/config_resolved.yaml"))


def test_postgres_killed_under_a_run_fails_it_and_keeps_what_it_logged(
    server, shared_data, tmp_path
):
    store = Store(server.uri, server.outputs)
    endless = [
        "experiment=boston_linear",
        "name=server_kill",
        "trainer.max_epochs=1000000",
        "trainer.early_stopping.enabled=false",
        "logger.log_model=false",
    ]
    with training(endless, server, shared_data, tmp_path) as endless_run:
        seen = wait_until(lambda: logged_points(store), 120, "the run to log 20 epochs")
        server.remember_processes()
        os.kill(server.postmaster_pid(), signal.SIGKILL)
        output = output_when_done(endless_run, 120, "the run, after its store was killed")
    assert endless_run.returncode != 0
    assert server.uri in output  # the failure names the store
    assert server.wait_for_exit() == 1
    assert "PostgreSQL stopped unexpectedly (killed by SIGKILL)" in server.output()
    # PostgreSQL's own children end a moment after it: they notice it is gone.
    wait_until(lambda: not server.leftover_processes(), 10, "no process of the server left")

    server.start()  # on a cluster killed with SIGKILL: its postmaster.pid left behind
    run = store.only_run("server_kill")
    history = store.client().get_metric_history(run.info.run_id, "train/loss")
    kept = {(point.step, point.value) for point in history}
    assert seen <= kept
    assert sorted(step for step, _ in kept) == list(range(1, len(kept) + 1))
    # The store was down when the run ended, so nothing could mark it FAILED; the next run
    # of its experiment on this machine marks it KILLED (store.mark_abandoned_runs_killed).
    assert run.info.status == "RUNNING"


def logged_points(store: Store) -> set[tuple[int, float]] | None:
    """The (step, value) points of the run's train/loss, once it has logged 20 epochs."""
    experiment = store.client().get_experiment_by_name("server_kill")
    runs = store.client().search_runs([experiment.experiment_id]) if experiment else []
    if not runs:
        return None
    history = store.client().get_metric_history(runs[0].info.run_id, "train/loss")
    return {(point.step, point.value) for point in history} if len(history) >= 20 else None
