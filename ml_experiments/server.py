"""Start a tracking server for many writers: `python -m ml_experiments.server [--port 5001]`.

PostgreSQL 15 (a cluster made in <outputs>/postgres/ on first use) behind `mlflow server`,
both on 127.0.0.1 only, the runs' artifacts proxied into <outputs>/postgres/artifacts/.
`--backend sqlite` serves <outputs>/mlflow.db instead. Point runs at it with
`export MLFLOW_TRACKING_URI=http://127.0.0.1:5001`. Ctrl-C or SIGTERM stops both.
When and why: docs/beyond_one_machine.md.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from ml_experiments import paths
from ml_experiments.errors import StopRequested
from ml_experiments.tracking.server import (
    BACKENDS,
    DEFAULT_PORT,
    DEFAULT_WORKERS,
    Server,
    ServerError,
    running_server,
)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    _stop_on_signals()
    try:
        with running_server(args.outputs_dir, args.port, args.backend, args.workers) as server:
            _print_ready(server)
            problem = server.wait()
            _ignore_stop_signals()  # stopping the other process must not be cut short
    except StopRequested as stop:
        print(f"stopped by {signal.Signals(stop.signum).name}: the server is down", flush=True)
        return
    except ServerError as error:
        sys.exit(f"error: {error}")
    sys.exit(
        f"error: {problem}; stopped the rest. What was logged is kept: start the server "
        "again to go on."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ml_experiments.server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument(
        "--outputs-dir",
        type=Path,
        default=paths.DEFAULT_OUTPUTS_DIR,
        help="the folder the store goes in (default: the project's outputs/)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=BACKENDS[0],
        help="postgresql (default), or sqlite: <outputs-dir>/mlflow.db",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=DEFAULT_WORKERS,
        help="MLflow server worker processes (default: %(default)s)",
    )
    return parser


def _port(text: str) -> int:
    number = _positive(text)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (1 to 65535)")
    return number


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def _stop_on_signals() -> None:
    """The first SIGTERM or Ctrl-C stops the server, even while it starts; later ones are
    ignored, so that they cannot interrupt the stopping."""

    def request_stop(signum, _frame):
        _ignore_stop_signals()
        raise StopRequested(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _print_ready(server: Server) -> None:
    print(
        f"MLflow tracking server on {server.uri}\n"
        f"  store      {server.store}\n"
        f"  artifacts  {server.files.artifacts}\n"
        f"  logs       {server.files.logs}\n"
        "Point runs at it (Ctrl-C stops the server):\n"
        f"  export MLFLOW_TRACKING_URI={server.uri}",
        flush=True,
    )


if __name__ == "__main__":
    main()
