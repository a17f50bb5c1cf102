"""The curriculum's reports on the real data: each stage's sweep with three seeds on a
fresh SQLite store, then `python -m ml_experiments.report parent=<its parent run>`,
copied as it was written to docs/reports/<stage>/ (report.md with its figures, and
report.html).

    python bench/reports.py [--stages stage1_boston stage2_mnist ...]

Each sweep fits in 45 minutes on 2 CPU cores; where a stage's full recipe would not, the
sweep trains a shorter one (fewer examples or epochs) and its description says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import PROJECT_ROOT, data_dir, latest_run, scratch_store, train

SEEDS = "seed=0,1,2"
NO_MODEL = "logger.log_model=false"
SOURCE_RUN = "<source run>"  # replaced by the id of the Fashion-MNIST run SOURCE trains
# Each stage: the sweep's overrides (its MLflow experiment is named after the stage).
STAGES = {
    # Gradient descent at 3 learning rates, with and without the B column (18 runs).
    "stage1_boston": ["experiment=boston_linear", "optimizer.lr=0.01,0.05,0.2",
                      "dataset.drop_columns=[],[B]", SEEDS, NO_MODEL],
    # Gradient descent with momentum against Adam in the same loop and against the
    # least-squares solution (9 runs).
    "stage1_optimizers": ["experiment=boston_linear,boston_linear_adam,boston_least_squares",
                          SEEDS, NO_MODEL],
    # Logistic regression on the digits table: the hand-written loop against
    # scikit-learn's fit (6 runs).
    "stage1_logistic": ["experiment=digits_logistic,digits_logistic_sklearn", SEEDS, NO_MODEL],
    # MNIST: three widths of the CNN, AdamW against SGD with momentum (18 runs, the
    # full recipe: 2 epochs on 55,000 digits).
    "stage2_mnist": ["experiment=mnist_cnn", "model.channels=[8,16],[16,32],[32,64]",
                     "optimizer=adamw,sgd", SEEDS, NO_MODEL],
    # Fashion-MNIST: the recipe and its one-change variants (18 runs). Shorter than the
    # recipe, to fit: 4 epochs on 15,000 of the 55,000 training images.
    "stage3_fashion": ["experiment=fashion_cnn,fashion_cnn_no_bn,fashion_cnn_no_augment,"
                       "fashion_cnn_small,fashion_cnn_no_schedule,fashion_cnn_no_weight_decay",
                       "dataset.train_subset=15000", "trainer.max_epochs=4", SEEDS, NO_MODEL],
    # LIAR, 6 classes: bag of words, TF-IDF and the LSTM on the statement, and liar_meta
    # on the statement with who said it and where (12 runs; the scikit-learn models do
    # not depend on the seed).
    "stage4_liar": ["experiment=liar_bow,liar_tfidf,liar_lstm,liar_meta", SEEDS, NO_MODEL],
    # IMDB: bag of words, TF-IDF and the LSTM (9 runs). Shorter than imdb_lstm's recipe,
    # to fit: 3 epochs instead of 4 (the linear models have no epochs).
    "stage4_imdb": ["experiment=imdb_bow,imdb_tfidf,imdb_lstm", "trainer.max_epochs=3",
                    SEEDS, NO_MODEL],
    # Transfer: mnist_transfer's recipe from the weights of a Fashion-MNIST run (trained
    # first, 4 epochs) or from random weights, on 100 and 1,000 labelled digits (12 runs).
    "stage5_transfer": ["experiment=mnist_transfer", f"model.weights='{SOURCE_RUN}',null",
                        "dataset.train_subset=100,1000", SEEDS, NO_MODEL],
    # IMDB on 2,000 training reviews: MiniLM fine-tuned against TF-IDF, tested on the same
    # 2,000 reviews (6 runs). Shorter than imdb_minilm's 7,500 reviews, to fit.
    "stage5_imdb": ["experiment=imdb_minilm,imdb_tfidf", "dataset.train_subset=2000",
                    "dataset.test_subset=2000", SEEDS, NO_MODEL],
}  # fmt: skip
SOURCE = ["experiment=fashion_cnn", "trainer.max_epochs=4", "name=stage5_source", NO_MODEL]
TARGET = PROJECT_ROOT / "docs" / "reports"


def parent_run_id(store_uri: str) -> str:
    import mlflow

    # The store holds one sweep; a sweep across experiments keeps its parent in `sweeps`.
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (parent,) = client.search_runs(experiments, "tags.sweep_dir != ''")
    return parent.info.run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", nargs="+", choices=list(STAGES), default=list(STAGES))
    for name in parser.parse_args().stages:
        report_stage(name)


def report_stage(name: str) -> None:
    scratch, store = scratch_store("reports")
    sweep = STAGES[name]
    if any(SOURCE_RUN in override for override in sweep):
        train(SOURCE, store, scratch)
        source = latest_run(store, "stage5_source").info.run_id
        sweep = [override.replace(SOURCE_RUN, source) for override in sweep]
    seconds = train(["-m", f"name={name}", *sweep], store, scratch)
    print(f"{name} sweep: {seconds:.0f} s", flush=True)
    write_report(name, scratch, store)


def write_report(name: str, scratch: Path, store: str) -> None:
    """`python -m ml_experiments.report parent=<the sweep's parent>`, copied to TARGET."""
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
    print(f"{name} report: {time.perf_counter() - started:.0f} s")
    (written,) = (scratch / "reports").glob(f"{name}_sweep_*")
    shutil.rmtree(TARGET / name, ignore_errors=True)
    shutil.copytree(written, TARGET / name)
    print(f"copied to {TARGET / name}")


if __name__ == "__main__":
    main()
