"""A tracking server for many writers: PostgreSQL (or the SQLite file) behind `mlflow server`.

`running_server` starts both on 127.0.0.1, brings the MLflow schema up to date, and stops
both when its block ends, however it ends. `python -m ml_experiments.server` is its command.

What goes where, under the outputs folder (PostgreSQL):

    postgres/data/       the cluster (initdb on first start), PostgreSQL's own, mode 0700
    postgres/run/        its unix socket, mode 0700: the MLflow server connects through it
    postgres/artifacts/  the runs' artifacts, proxied by the MLflow server
    postgres/logs/       postgres.log and mlflow_server.log
    postgres/password    the `mlflow` role's password, for TCP clients such as psql -h 127.0.0.1

With the SQLite backend the store is `mlflow.db`, the artifacts `mlartifacts/` and the log
`logs/mlflow_server.log`, beside what training writes without a server.

The processes. Each child runs in its own session, so a Ctrl-C in the terminal reaches only
this process, which stops them in order: MLflow first (its whole process group: the CLI,
uvicorn and its workers), then PostgreSQL with a fast shutdown (a checkpoint; nothing
committed is lost). The kernel also stops each child when this process dies without
stopping them (PR_SET_PDEATHSIG), so a SIGKILL leaves no orphan serving an old port.

Root. PostgreSQL refuses to run as root. As root, initdb and postgres run as the `postgres`
user that Debian's package creates, through subprocess's user=/group= (the child switches
user before exec: no runuser or setpriv process in between, so signals reach postgres
itself). That user must be able to pass through every folder above the cluster.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib.util
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ml_experiments import paths
from ml_experiments.errors import UserError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # this machine only; docs/beyond_one_machine.md for a shared host
DEFAULT_PORT = 5001
DEFAULT_WORKERS = 2  # uvicorn workers: requests of parallel jobs are served side by side
BACKENDS = ("postgresql", "sqlite")
DATABASE = ROLE = "mlflow"  # the database the runs go to, and the role that owns it
POSTGRES_ACCOUNT = "postgres"  # who runs PostgreSQL when this process is root
PREFERRED_MAJOR = 15  # the version .ci/setup installs and the tests run against
DEBIAN_INSTALLS = Path("/usr/lib/postgresql")  # <major>/bin/{initdb,postgres}
SOCKET_PATH_LIMIT = 107  # bytes in a unix socket's path (sockaddr_un, less the final NUL)
POSTGRES_START_SECONDS = 60
MLFLOW_START_SECONDS = 180  # importing mlflow in each worker takes ~20 s on 2 busy cores
STOP_SECONDS = 30
DRIVER_FIX = "pip install 'psycopg[binary]>=3.2' into .venv"


class ServerError(UserError):
    """The server cannot start, or one of its processes stopped: the message says why."""


@dataclass(frozen=True)
class ServerFiles:
    """Where one server keeps its files, under the outputs folder (see the module's doc)."""

    outputs: Path
    backend: str

    @property
    def folder(self) -> Path:
        return self.outputs / "postgres" if self.backend == "postgresql" else self.outputs

    @property
    def cluster(self) -> Path:
        return self.folder / "data"

    @property
    def sockets(self) -> Path:
        return self.folder / "run"

    @property
    def password(self) -> Path:
        return self.folder / "password"

    @property
    def sqlite(self) -> Path:
        return self.outputs / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return (
            self.folder / "artifacts"
            if self.backend == "postgresql"
            else self.outputs / "mlartifacts"
        )

    @property
    def lock(self) -> Path:
        return self.outputs / "mlflow_server.lock"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    def log(self, program: str) -> Path:
        return self.logs / f"{program}.log"


@dataclass
class Server:
    """A started server: where to point runs, what it serves, and its processes."""

    uri: str  # export MLFLOW_TRACKING_URI=<this>
    store: str  # what the runs are kept in, for people
    files: ServerFiles
    processes: dict[str, subprocess.Popen]  # name for people -> process

    def wait(self, poll_seconds: float = 0.5) -> str:
        """Block until one of the processes exits; return which, and how."""
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    return f"{name} stopped unexpectedly ({exit_description(process.returncode)})"
            time.sleep(poll_seconds)


@contextmanager
def running_server(
    outputs: Path,
    port: int = DEFAULT_PORT,
    backend: str = "postgresql",
    workers: int = DEFAULT_WORKERS,
) -> Iterator[Server]:
    """The MLflow server (and PostgreSQL), started and answering; stopped when the block ends."""
    files = ServerFiles(Path(outputs).resolve(), backend)
    _check_writable(files.outputs)
    with _only_server_on(files, port), ExitStack() as stack:
        _check_port_free(port)
        processes = {}
        if backend == "postgresql":
            postgres, store_uri, store = stack.enter_context(_running_postgres(files))
            processes["PostgreSQL"] = postgres
        else:
            store_uri = f"{paths.SQLITE_PREFIX}{files.sqlite}"
            store = f"SQLite file {files.sqlite}"
        _upgrade_schema(store_uri)
        mlflow = stack.enter_context(_running_mlflow(store_uri, files, port, workers))
        processes["the MLflow server"] = mlflow
        yield Server(f"http://{HOST}:{port}", store, files, processes)


def exit_description(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


# --- checks before anything starts ---------------------------------------------------


def _check_writable(outputs: Path) -> None:
    reason = paths.unwritable_reason(outputs)
    if reason is not None:
        raise ServerError(
            f"cannot write in the outputs folder {outputs}: {reason}. "
            "Choose a writable one with --outputs-dir."
        )


@contextmanager
def _only_server_on(files: ServerFiles, port: int) -> Iterator[None]:
    """Hold the outputs folder's lock while serving: two servers on one folder would start
    two PostgreSQLs on one cluster, or race to make it."""
    with files.lock.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "starting"
            raise ServerError(
                f"a server already runs on {files.outputs} ({holder}). Use it, stop it "
                "(Ctrl-C, or kill -TERM <pid>), or give this one another --outputs-dir."
            ) from None
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}, http://{HOST}:{port}\n")
        lock.flush()
        yield  # the lock goes with the file's closing, even on SIGKILL


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        # As uvicorn binds: a port that only has connections closing (TIME_WAIT) is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except PermissionError:
            raise ServerError(
                f"port {port} is reserved for root here: choose one above 1023 with --port."
            ) from None
        except OSError as error:
            raise ServerError(
                f"port {port} on {HOST} is taken ({error.strerror}): another program, or "
                "another server, listens there. Choose another with --port."
            ) from None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# --- PostgreSQL ---------------------------------------------------------------------


@contextmanager
def _running_postgres(files: ServerFiles) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """PostgreSQL on the outputs folder's cluster: (its process, the store URI, a description)."""
    _check_driver()
    _check_socket_path(files.sockets)
    binaries = _postgres_binaries(files.cluster)
    account = _postgres_account()
    _prepare_folders(files, account)
    if not (files.cluster / "PG_VERSION").is_file():
        _init_cluster(binaries, files, account)
    _clear_stale_pid_file(files.cluster)
    port = _free_port()
    process = _start_postgres(binaries, files, account, port)
    try:
        _wait_until_postgres_ready(process, files)
        _create_database(files, port)
        major = _major_version(binaries)
        store = (
            f"PostgreSQL {major} on {HOST}:{port}, database {DATABASE}, user {ROLE}, "
            f"password in {files.password}"
        )
        yield process, postgres_uri(files.sockets, port), store
    finally:
        # A fast shutdown (a checkpoint, then exit), else an immediate one (recovery from
        # the log at the next start). Never SIGKILL: it would leave shared memory behind.
        _stop(process, [(signal.SIGINT, STOP_SECONDS), (signal.SIGQUIT, 10)], group=False)


def postgres_uri(sockets: Path, port: int) -> str:
    """The SQLAlchemy URI of the database through the unix socket (no password needed)."""
    return f"postgresql+psycopg://{ROLE}@/{DATABASE}?host={quote(str(sockets))}&port={port}"


def _check_driver() -> None:
    if importlib.util.find_spec("psycopg") is None:
        raise ServerError(
            f"the PostgreSQL driver psycopg is not installed: {DRIVER_FIX}, "
            "or serve the SQLite file with --backend sqlite."
        )


def _check_socket_path(sockets: Path) -> None:
    longest = sockets / ".s.PGSQL.65535"
    if len(os.fsencode(longest)) > SOCKET_PATH_LIMIT:
        raise ServerError(
            f"the path of PostgreSQL's socket, {longest}, is longer than the {SOCKET_PATH_LIMIT} "
            "bytes a unix socket allows: choose a shorter --outputs-dir."
        )


def _postgres_binaries(cluster: Path) -> Path:
    """The folder with initdb and postgres: of the cluster's version when there is one, else
    version 15 if installed, else the newest. Looks on PATH and in Debian's
    /usr/lib/postgresql/<major>/bin (not on PATH there)."""
    found = {_major_version(folder): folder for folder in reversed(_candidate_folders())}
    made_by = cluster / "PG_VERSION"
    if made_by.is_file():
        wanted = int(made_by.read_text().strip())
        if wanted not in found:
            raise ServerError(
                f"the cluster {cluster} was made by PostgreSQL {wanted}, which is not installed "
                f"(found: {sorted(found) or 'none'}). Install postgresql-{wanted}, or start "
                "afresh with another --outputs-dir."
            )
        return found[wanted]
    if not found:
        raise ServerError(
            "PostgreSQL's server programs (initdb, postgres) are not installed: run "
            "`bash .ci/setup`, which installs Debian's postgresql-15; or serve the SQLite "
            "file with --backend sqlite."
        )
    return found.get(PREFERRED_MAJOR) or found[max(found)]


def _candidate_folders() -> list[Path]:
    on_path = [Path(found).resolve().parent for found in [shutil.which("postgres")] if found]
    debian = sorted(DEBIAN_INSTALLS.glob("*/bin"), reverse=True)
    folders = [folder for folder in [*on_path, *debian] if _has_server_programs(folder)]
    return list(dict.fromkeys(folders))  # in order, once each


def _has_server_programs(folder: Path) -> bool:
    return all(os.access(folder / program, os.X_OK) for program in ("initdb", "postgres"))


def _major_version(binaries: Path) -> int:
    """15 from `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`."""
    output = subprocess.run(
        [binaries / "postgres", "--version"], capture_output=True, text=True, check=True
    ).stdout
    return int(re.search(r"\) (\d+)", output).group(1))


def _postgres_account() -> pwd.struct_passwd | None:
    """Who runs PostgreSQL: None for this process's own user, `postgres` when that is root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(POSTGRES_ACCOUNT)
    except KeyError:
        raise ServerError(
            f"PostgreSQL refuses to run as root, and there is no `{POSTGRES_ACCOUNT}` user to "
            "run it as: run `bash .ci/setup` (Debian's package creates it), or start the "
            "server as another user."
        ) from None


def _prepare_folders(files: ServerFiles, account: pwd.struct_passwd | None) -> None:
    files.logs.mkdir(parents=True, exist_ok=True)
    files.sockets.mkdir(mode=0o700, exist_ok=True)
    # Who can enter the socket folder can log in (trust): its owner, and root.
    _give(files.sockets, account)
    if account is not None:
        _check_reachable(files.folder, account)


def _give(folder: Path, account: pwd.struct_passwd | None) -> None:
    """Make `folder` PostgreSQL's own, mode 0700 (initdb and postgres insist on it)."""
    folder.chmod(0o700)
    if account is not None:
        os.chown(folder, account.pw_uid, account.pw_gid)


def _check_reachable(folder: Path, account: pwd.struct_passwd) -> None:
    """Fail early, naming the folder, when `account` cannot pass through a folder above."""
    groups = os.getgrouplist(account.pw_name, account.pw_gid)
    for parent in [*reversed(folder.parents), folder]:
        info = parent.stat()
        if info.st_uid == account.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            raise ServerError(
                f"PostgreSQL runs as the user {account.pw_name} (it refuses root), and "
                f"{account.pw_name} cannot pass through {parent} (mode "
                f"{stat.filemode(info.st_mode)}). Choose an --outputs-dir other users can "
                f"reach, or open that folder to them: chmod o+x {parent}"
            )


def _init_cluster(binaries: Path, files: ServerFiles, account: pwd.struct_passwd | None) -> None:
    """initdb into a scratch folder, renamed when complete: a start stopped halfway leaves
    no half-made cluster that would later fail to start."""
    scratch = files.cluster.with_name("data.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    _give(scratch, account)
    log.info("making a PostgreSQL cluster in %s (first start)", files.cluster)
    command = [
        binaries / "initdb",
        f"--pgdata={scratch}",
        f"--username={ROLE}",
        # Local (socket) logins need no password: the socket folder is closed to others.
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
    ]
    completed = subprocess.run(
        command, cwd=files.folder, capture_output=True, text=True, **_as_user(account)
    )
    if completed.returncode != 0:
        raise ServerError(
            f"initdb failed in {scratch}:\n{_tail(completed.stdout + completed.stderr)}"
        )
    scratch.rename(files.cluster)


def _clear_stale_pid_file(cluster: Path) -> None:
    """A PostgreSQL killed with SIGKILL leaves postmaster.pid behind. PostgreSQL ignores it
    when that process is gone, but not when another program has since got its pid."""
    pid = _postmaster_field(cluster, 0)
    if pid is None or not _alive(int(pid)):
        return
    if str(cluster) not in _command_line(int(pid)):
        (cluster / "postmaster.pid").unlink()
        return
    # Ours, from an earlier server killed a moment ago: the kernel told it to stop.
    if not _wait_for_exit(int(pid), STOP_SECONDS):
        raise ServerError(
            f"PostgreSQL (pid {pid}) still runs on {cluster}, left by an earlier server: "
            f"stop it (kill -INT {pid}) and start again."
        )


def _start_postgres(
    binaries: Path, files: ServerFiles, account: pwd.struct_passwd | None, port: int
) -> subprocess.Popen:
    log.info("starting PostgreSQL on %s:%d", HOST, port)
    command = [
        binaries / "postgres",
        "-D",
        files.cluster,
        "-p",
        str(port),
        "-c",
        f"listen_addresses={HOST}",
        "-c",
        f'unix_socket_directories="{files.sockets}"',  # quoted: the path may hold spaces
    ]
    return _spawn(command, files.log("postgres"), signal.SIGINT, account=account, cwd=files.folder)


def _wait_until_postgres_ready(process: subprocess.Popen, files: ServerFiles) -> None:
    deadline = time.monotonic() + POSTGRES_START_SECONDS
    while _postmaster_field(files.cluster, 7, process.pid) != "ready":
        if process.poll() is not None:
            raise ServerError(
                f"PostgreSQL stopped while starting ({exit_description(process.returncode)}):\n"
                f"{_tail(files.log('postgres').read_text())}"
            )
        if time.monotonic() > deadline:
            raise ServerError(
                f"PostgreSQL did not start within {POSTGRES_START_SECONDS} s: see "
                f"{files.log('postgres')}"
            )
        time.sleep(0.2)


def _postmaster_field(cluster: Path, line: int, pid: int | None = None) -> str | None:
    """A line of postmaster.pid (0: the pid, 7: the status, `ready` once it takes
    connections), or None; with `pid`, only from that process's file."""
    try:
        lines = (cluster / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) <= line or (pid is not None and lines[0] != str(pid)):
        return None
    return lines[line].strip()


def _create_database(files: ServerFiles, port: int) -> None:
    """The runs' database, on the first start; before it, a password for TCP clients (so a
    start that stops halfway sets a new one next time)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(files.sockets), port=port, user=ROLE, dbname="postgres", autocommit=True
    ) as connection:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if connection.execute(query, (DATABASE,)).fetchone() is not None:
            return
        password = secrets.token_urlsafe(24)
        connection.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password))
        )
        files.password.touch(mode=0o600)
        files.password.write_text(password + "\n")
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


# --- MLflow -------------------------------------------------------------------------


def _upgrade_schema(store_uri: str) -> None:
    """Create the tables on a new store, migrate an older one; nothing on a current one."""
    log.info("bringing the MLflow schema up to date (mlflow db upgrade)")
    completed = subprocess.run(
        [sys.executable, "-m", "mlflow", "db", "upgrade", store_uri],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise ServerError(f"mlflow db upgrade failed:\n{_tail(completed.stderr)}")


@contextmanager
def _running_mlflow(
    store_uri: str, files: ServerFiles, port: int, workers: int
) -> Iterator[subprocess.Popen]:
    files.artifacts.mkdir(parents=True, exist_ok=True)
    files.logs.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        store_uri,
        # Clients send artifacts to the server, which writes them here: no client needs
        # access to this folder, wherever it runs.
        "--serve-artifacts",
        "--artifacts-destination",
        str(files.artifacts),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    # MLflow's job runner serves GenAI evaluation jobs (not used here) with seven more processes.
    environment = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log.info("starting the MLflow server on %s:%d (about 20 s)", HOST, port)
    process = _spawn(command, files.log("mlflow_server"), signal.SIGTERM, env=environment)
    try:
        _wait_until_answering(process, port, files.log("mlflow_server"))
        yield process
    finally:
        _stop(process, [(signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, 10)], group=True)


def _wait_until_answering(process: subprocess.Popen, port: int, log_file: Path) -> None:
    deadline = time.monotonic() + MLFLOW_START_SECONDS
    while not _healthy(port):
        if process.poll() is not None:
            output = log_file.read_text()
            if "address already in use" in output.lower():
                raise ServerError(
                    f"port {port} on {HOST} was taken while the server started: "
                    "choose another with --port."
                )
            raise ServerError(
                f"the MLflow server stopped while starting "
                f"({exit_description(process.returncode)}):\n{_tail(output)}"
            )
        if time.monotonic() > deadline:
            raise ServerError(
                f"the MLflow server did not answer within {MLFLOW_START_SECONDS} s: see {log_file}"
            )
        time.sleep(0.5)


def _healthy(port: int) -> bool:
    # No proxy: an http_proxy variable must not send a request for 127.0.0.1 elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{HOST}:{port}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# --- processes ----------------------------------------------------------------------


def _spawn(
    command: list,
    log_file: Path,
    stop_signal: signal.Signals,
    account: pwd.struct_passwd | None = None,
    **options,
) -> subprocess.Popen:
    """A child in its own session, writing to `log_file`, sent `stop_signal` by the kernel
    when this process dies."""
    with log_file.open("a") as output:
        return subprocess.Popen(
            [str(part) for part in command],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_stopped_with_parent(stop_signal),
            **_as_user(account),
            **options,
        )


def _stopped_with_parent(stop_signal: signal.Signals):
    """Run in the child, after it switched user (a switch would clear the setting)."""
    libc = ctypes.CDLL(None, use_errno=True)
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG from <linux/prctl.h>

    def set_signal() -> None:
        libc.prctl(set_parent_death_signal, int(stop_signal))

    return set_signal


def _as_user(account: pwd.struct_passwd | None) -> dict:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _stop(
    process: subprocess.Popen, steps: list[tuple[signal.Signals, float]], group: bool
) -> None:
    """Send each signal in turn until the process (with `group`, its whole process group)
    is gone, waiting up to the given seconds after each."""
    for signum, seconds in steps:
        if not _still_running(process, group):
            return
        try:
            os.killpg(process.pid, signum) if group else process.send_signal(signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + seconds
        while _still_running(process, group) and time.monotonic() < deadline:
            time.sleep(0.1)
    if _still_running(process, group):
        log.warning("process %d did not stop: stop it by hand", process.pid)


def _still_running(process: subprocess.Popen, group: bool) -> bool:
    running = process.poll() is None  # reaps it once it has exited
    return running or (group and bool(_group_members(process.pid)))


def _group_members(group_id: int) -> list[int]:
    """The live processes of a process group; exited ones that nobody reaped yet
    (zombies) do not count."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # After the command's name, in parentheses: state, parent pid, process group.
            state, _, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == group_id and state != "Z":
            members.append(int(entry.name))
    return members


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait_for_exit(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
