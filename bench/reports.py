"""Stage 1's sweep with three seeds on the real Boston data, and its report: writes
docs/reports/stage1_boston/ (report.md with its figures, and report.html).

    python bench/reports.py

The sweep: `boston_linear` at 3 learning rates, with and without the `B` column, seeds
0, 1 and 2 (18 runs), on a fresh SQLite store; then `python -m ml_experiments.report
parent=<its parent run>`. The report is copied as it was written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from common import PROJECT_ROOT, data_dir, scratch_store, train

NAME = "stage1_boston"
SWEEP = [
    "-m",
    "experiment=boston_linear",
    f"name={NAME}",
    "optimizer.lr=0.01,0.05,0.2",
    "dataset.drop_columns=[],[B]",
    "seed=0,1,2",
    "logger.log_model=false",
]
TARGET = PROJECT_ROOT / "docs" / "reports" / NAME


def parent_run_id(store_uri: str) -> str:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store_uri)
    experiment = client.get_experiment_by_name(NAME)
    (parent,) = client.search_runs([experiment.experiment_id], "tags.sweep_dir != ''")
    return parent.info.run_id


def main() -> None:
    scratch, store = scratch_store("reports")
    seconds = train(SWEEP, store, scratch)
    print(f"sweep: {seconds:.0f} s", flush=True)
    started = time.perf_counter()
    parent = parent_run_id(store)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ml_experiments.report",
            f"parent={parent}",
            f"paths.outputs_dir={scratch}",
            f"tracking_uri={store}",
        ],
        cwd=PROJECT_ROOT,
        env=os.environ | {"ML_EXPERIMENTS_DATA_DIR": str(data_dir())},
        check=True,
    )
    print(f"report: {time.perf_counter() - started:.0f} s")
    (written,) = (scratch / "reports").glob(f"{NAME}_sweep_*")
    shutil.rmtree(TARGET, ignore_errors=True)
    shutil.copytree(written, TARGET)
    print(f"copied to {TARGET}")


if __name__ == "__main__":
    main()
