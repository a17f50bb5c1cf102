"""One run, start to finish: the flow that `train.main` hands the composed config to.

check config -> seed, device -> open MLflow run -> data -> model
  -> torch loop or scikit-learn fit -> test metrics, report, model -> objective

Under torchrun every process runs this flow together: rank 0 opens and logs the run,
the others train their slice of each batch and log nothing (docs/distributed.md).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ml_experiments.config.build import build
from ml_experiments.config.rules import check_config, check_metric_names
from ml_experiments.config.schemas import Modality
from ml_experiments.data import DataBundle, fingerprint
from ml_experiments.engine import checkpoint, distributed, runtime, sanity
from ml_experiments.engine.checkpoint import ResumePoint
from ml_experiments.engine.distributed import World
from ml_experiments.engine.loop import FitResult
from ml_experiments.engine.setup import build_trainer
from ml_experiments.engine.sklearn_fit import fit_and_test
from ml_experiments.models.factory import build_for_data
from ml_experiments.models.protocols import LoadsPretrained
from ml_experiments.reporting.run_report import EvaluatedSplit, run_report
from ml_experiments.tracking import registry, store
from ml_experiments.tracking.datasets import split_datasets
from ml_experiments.tracking.logger import RunLogger
from ml_experiments.tracking.run import RunContext, tracked_run
from ml_experiments.tuning.trial import TrialReporter

log = logging.getLogger(__name__)


def run(cfg: DictConfig, context: RunContext) -> float:
    """Train, evaluate and log one run; return the value of `cfg.optimized_metric`."""
    world = distributed.launched_world()
    check_config(cfg, processes=world.size)
    runtime.seed_everything(cfg.seed)
    runtime.set_threads(cfg.device.threads)
    device = runtime.select_device(cfg.device.type.value)
    resume = _resume_point(cfg) if cfg.trainer.resume else None
    with distributed.process_group(world, cfg.trainer.distributed.backend, device) as world:
        return _tracked(cfg, context, world, resume)


def _tracked(cfg: DictConfig, context: RunContext, world: World, resume) -> float:
    resume_run_id = resume.run_id if resume else None
    with tracked_run(cfg, context, resume_run_id, world) as run_logger:
        trial = _trial_reporter(cfg, context, run_logger.run_id) if world.is_main else None
        data = build(cfg.dataset, drop=(), seed=cfg.seed)
        data_fingerprint = fingerprint.fingerprint(data)
        data = fingerprint.stamped(data, data_fingerprint).with_target_scale()
        data, model = build_for_data(cfg.model, data)
        if resume is None and isinstance(model, LoadsPretrained) and model.weights:
            # Transfer; a resumed run has its weights already. The store is open by now.
            model.load_pretrained(store.pretrained_source(model.weights, tracking_uri=None))
        trains_with_torch = isinstance(model, torch.nn.Module)
        check_metric_names(cfg, data.meta.task, trains_with_torch)
        if resume is None:
            run_logger.log_params(_data_params(data))
            run_logger.log_dict(data.meta.to_dict(), "dataset_meta.json")
            run_logger.log_datasets(split_datasets(data.meta, cfg.dataset, data_fingerprint))
        if trains_with_torch:
            metrics, history = _train_torch(cfg, model, data, world, run_logger, resume, trial)
        else:
            metrics, history = _train_sklearn(cfg, model, data, run_logger), None
        if not world.is_main:  # rank 0 reports the results
            return metrics[cfg.optimized_metric]
        log.info("results: %s", " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        _compare_with_baseline(data, metrics, history, run_logger)
        # A sweep that registers its best leaves its jobs to the parent (sweeps.py).
        if cfg.logger.register_as and not (context.sweep and cfg.logger.register_best):
            registry.register(run_logger.model_id, cfg.logger.register_as)
        return metrics[cfg.optimized_metric]


def _trial_reporter(cfg: DictConfig, context: RunContext, run_id: str) -> TrialReporter | None:
    """The Optuna trial this job runs for, told the run's id; None outside a stored study."""
    if context.trial is None:
        return None
    reporter = TrialReporter(context.trial, cfg.optimized_metric)
    reporter.record_run(run_id)
    return reporter


def _compare_with_baseline(data: DataBundle, metrics: dict, history, run_logger) -> None:
    """Log the trivial baseline's test metrics; warn (last lines, `warning` tag) when the
    run is no better than it or stopped while its loss still fell steeply."""
    baseline = sanity.baseline_metrics(data)
    run_logger.log_metrics(baseline, step=0)
    warnings = sanity.result_warnings(data.meta.task, metrics | baseline, history)
    for warning in warnings:
        log.warning(warning.message)
    if warnings:
        run_logger.set_tag("warning", ",".join(warning.tag for warning in warnings))


def _resume_point(cfg: DictConfig) -> ResumePoint:
    """The checkpoint `trainer.resume` names (a path, or the id of the run to continue)."""
    path = store.checkpoint_file(
        cfg.trainer.resume, checkpoint.LAST, "trainer.resume", cfg.logger.tracking_uri
    )
    current = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    return checkpoint.resume_point(path, current)


def _train_torch(
    cfg, model, data: DataBundle, world: World, run_logger: RunLogger, resume, trial
) -> tuple[dict, dict]:
    log_epoch = (
        run_logger.log_metrics if trial is None else trial.after_epoch(run_logger.log_metrics)
    )
    trainer = build_trainer(
        cfg, model, data, world.device, log_epoch, run_logger.run_id, resume, world
    )
    result = trainer.fit()
    # The epoch metrics of the best epoch: those weights were restored and tested.
    best = result.state.best_epoch - 1
    at_best = {key: values[best] for key, values in result.state.history.items()}
    # A metric's value in the MLflow UI is its last epoch's; the objective is the best
    # epoch's. best/val/* records the latter, so the UI and sweepers agree.
    summary = {"best_epoch": float(result.state.best_epoch)} | result.test_metrics
    summary |= {f"best/{key}": value for key, value in at_best.items() if key.startswith("val/")}
    if world.is_main:
        _log_torch_artifacts(cfg, trainer.data, result, run_logger)
    run_logger.log_metrics(summary, result.state.epoch)  # after the model: linked to it
    return at_best | summary, result.state.history


def _log_torch_artifacts(cfg, data: DataBundle, result: FitResult, run_logger: RunLogger):
    if cfg.logger.log_model:
        run_logger.log_model(result.model, data)
    if cfg.logger.log_checkpoint and result.best_checkpoint is not None:
        run_logger.log_artifact(result.best_checkpoint, "checkpoints")
    results = _evaluated_test_split(data, result.test_outputs)
    report = run_report(results, result.state.history, cfg.logger.log_figures)
    run_logger.log_report(report, step=result.state.epoch)


def _train_sklearn(cfg, estimator, data: DataBundle, run_logger: RunLogger) -> dict:
    result = fit_and_test(estimator, data)
    if cfg.logger.log_model:  # first, so the test metrics are linked to it
        run_logger.log_model(result.estimator, data)
    run_logger.log_params(result.params)
    run_logger.log_metrics(result.metrics, 0)
    test_split = _evaluated_test_split(data, result.test_outputs)
    report = run_report(test_split, None, cfg.logger.log_figures)
    run_logger.log_report(report, step=0)
    return result.metrics


def _evaluated_test_split(data: DataBundle, outputs: torch.Tensor) -> EvaluatedSplit:
    modality = data.meta.modality
    test = data.test

    def images(indices: np.ndarray) -> np.ndarray:
        return data.prepare_batch(test.x[torch.as_tensor(indices)], False).cpu().numpy()

    return EvaluatedSplit(
        meta=data.meta,
        targets=test.y.cpu().numpy(),
        outputs=outputs.cpu(),
        texts=test.texts if modality == Modality.text else None,
        images=images if modality == Modality.image else None,
    )


def _data_params(data: DataBundle) -> dict:
    meta = data.meta
    params = {
        "data/task": str(meta.task),
        "data/modality": str(meta.modality),
        "data/input_shape": list(meta.input_shape),
        "data/num_classes": meta.num_classes,
        "data/train_rows": len(data.train),
        "data/val_rows": len(data.val),
        "data/test_rows": len(data.test),
        "data/digest": meta.data_digest,
    }
    return params | {f"data/{key}": value for key, value in data.summary.items()}
