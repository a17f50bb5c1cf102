"""Open the MLflow UI on the project's store: `python -m ml_experiments.ui [--port 5000]`.

Starts `mlflow server` bound to 127.0.0.1 (this machine only) against the store
that `train.py` logs to: MLFLOW_TRACKING_URI if set, else outputs/mlflow.db.
Then open http://127.0.0.1:5000 in a browser. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ml_experiments import paths
from ml_experiments.errors import ConfigError

HOST = "127.0.0.1"


def server_command(tracking_uri: str, outputs_dir: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        tracking_uri,
        # Only for experiments created from the UI; train.py sets each experiment's own.
        "--default-artifact-root",
        paths.artifact_root_for(tracking_uri, outputs_dir),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--outputs-dir", type=Path, default=paths.DEFAULT_OUTPUTS_DIR)
    args = parser.parse_args()
    uri = paths.default_tracking_uri(args.outputs_dir)
    try:
        paths.check_tracking_uri(uri)
    except ConfigError as error:
        sys.exit(f"error: {error}")
    if paths.is_tracking_server(uri):
        sys.exit(f"error: MLFLOW_TRACKING_URI={uri} is a tracking server: open it in a browser.")
    database = paths.sqlite_path(uri)
    if database is not None and not database.is_file():
        fix = (
            "unset MLFLOW_TRACKING_URI" if "MLFLOW_TRACKING_URI" in os.environ else "--outputs-dir"
        )
        sys.exit(f"error: no MLflow store at {uri} yet. Train a run first, or check {fix}.")
    print(f"MLflow UI on http://{HOST}:{args.port} for {uri} (Ctrl-C stops it)", flush=True)
    command = server_command(uri, args.outputs_dir, args.port)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
