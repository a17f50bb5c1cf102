"""Saving and loading a trained model: MLflow's pickled scikit-learn model alone (what a
run logged before) against the run's model today (the end-to-end MLflow model, which takes
raw text and answers with class names and probabilities, plus the fitted arrays and JSON
that `predict` and `evaluate` load without unpickling anything), in one script.

    python bench/model_saving.py [--repeats 3] [--train-subset N]

The model is `imdb_tfidf`'s TF-IDF + logistic regression pipeline fitted once on IMDB's
training split (the largest scikit-learn model of the curriculum: a vocabulary of
200,000 word n-grams). Each repeat times both sides, in alternating order, in a fresh
SQLite store.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from common import PROJECT_ROOT, data_dir, median, scratch_store, write_results


def fitted_imdb_tfidf(train_subset: int | None):
    from hydra import compose, initialize_config_dir

    from ml_experiments.config import register_configs
    from ml_experiments.config.build import build
    from ml_experiments.engine.sklearn_fit import fit_and_test
    from ml_experiments.models.factory import build_for_data

    register_configs()
    overrides = ["experiment=imdb_tfidf", f"paths.data_dir={data_dir()}"]
    if train_subset:
        overrides.append(f"dataset.train_subset={train_subset}")
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    data = build(cfg.dataset, drop=(), seed=cfg.seed)
    data, estimator = build_for_data(cfg.model, data)
    fit_and_test(estimator, data)
    return estimator, data, cfg


def time_saving(
    estimator, data, scratch: Path, store_uri: str, safe_state_too: bool, cfg
) -> tuple[float, str]:
    import mlflow
    import mlflow.sklearn
    import sklearn
    from omegaconf import OmegaConf

    from ml_experiments.engine.sklearn_fit import features
    from ml_experiments.tracking.logger import RunLogger

    mlflow.set_tracking_uri(store_uri)
    if mlflow.get_experiment_by_name("model_saving") is None:
        mlflow.create_experiment("model_saving", artifact_location=(scratch / "artifacts").as_uri())
    mlflow.set_experiment("model_saving")
    with mlflow.start_run() as run:
        # What a run logs first, and loading reads back: its config and dataset metadata.
        mlflow.log_text(OmegaConf.to_yaml(cfg), "config/hydra/config.yaml")
        mlflow.log_dict(data.meta.to_dict(), "dataset_meta.json")
        example = features(data, data.test, estimator)[:5]  # what runs gave MLflow's own flavour
        started = time.perf_counter()
        if safe_state_too:
            RunLogger(run.info.run_id).log_model(estimator, data)
        else:
            mlflow.sklearn.log_model(  # exactly as runs logged it before
                estimator,
                name="model",
                input_example=example,
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                serialization_format="cloudpickle",
            )
        return time.perf_counter() - started, run.info.run_id


def time_loading(run_id: str, store_uri: str) -> float:
    from ml_experiments.tracking.loading import from_run

    started = time.perf_counter()
    from_run(run_id, store_uri)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-subset", type=int, default=None)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    estimator, data, cfg = fitted_imdb_tfidf(args.train_subset)
    vocabulary = len(estimator.named_steps["words"].vocabulary_)
    before, after, loads = [], [], []
    for repeat in range(args.repeats):
        scratch, store_uri = scratch_store("model_saving")
        for safe in (repeat % 2 == 1, repeat % 2 == 0):  # alternate which side goes first
            seconds, run_id = time_saving(estimator, data, scratch, store_uri, safe, cfg)
            (after if safe else before).append(seconds)
            if safe:
                loads.append(time_loading(run_id, store_uri))
    ratio = median(after) / median(before)
    body = "\n".join(
        [
            f"`imdb_tfidf` pipeline, vocabulary of {vocabulary:,} terms; median of "
            f"{args.repeats} saves each.",
            "",
            "| saved | median seconds | runs |",
            "|---|---|---|",
            f"| MLflow model alone (cloudpickle) | {median(before):.2f} | "
            + ", ".join(f"{value:.2f}" for value in before)
            + " |",
            f"| end-to-end MLflow model + fitted arrays and JSON (today) | {median(after):.2f} | "
            + ", ".join(f"{value:.2f}" for value in after)
            + " |",
            "",
            f"Saving takes {ratio:.2f}x the time of the pickled model alone. Loading it back "
            f"for `predict` without pickle (rebuilt from its config, arrays set on it): "
            f"median {median(loads):.2f} s.",
        ]
    )
    write_results("model_saving", "Saving a model that loads without pickle", body)


if __name__ == "__main__":
    main()
