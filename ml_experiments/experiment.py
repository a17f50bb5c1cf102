"""One run, start to finish: the flow that `train.main` hands the composed config to.

check config -> seed, device -> open MLflow run -> data -> model
  -> torch loop or scikit-learn fit -> test metrics, figures, model -> objective
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ml_experiments import reports, runtime, tracking, viz
from ml_experiments.building import build, plain_options
from ml_experiments.data import DataBundle
from ml_experiments.data.base import CLASSIFICATION
from ml_experiments.data.text import is_text
from ml_experiments.data.vocabulary import tokenize_bundle
from ml_experiments.engine import checkpoint
from ml_experiments.engine.loop import Trainer, optimizer_steps_in_epoch
from ml_experiments.engine.metrics import confusion_matrix
from ml_experiments.engine.schedules import build_schedule
from ml_experiments.engine.sklearn_fit import features, fit_and_test
from ml_experiments.errors import CheckpointError, ConfigError
from ml_experiments.tracking import RunContext, RunLogger
from ml_experiments.validation import check_config, check_metric_names, check_onecycle_steps

log = logging.getLogger(__name__)


def run(cfg: DictConfig, context: RunContext) -> float:
    """Train, evaluate and log one run; return the value of `cfg.optimized_metric`."""
    check_config(cfg)
    runtime.seed_everything(cfg.seed)
    runtime.set_threads(cfg.device.threads)
    device = runtime.select_device(cfg.device.type.value)
    resume_from = _resume_checkpoint(cfg) if cfg.trainer.resume else None
    resume_run_id = resume_from["run_id"] if resume_from else None

    with tracking.tracked_run(cfg, context, resume_run_id=resume_run_id) as run_logger:
        data = build(cfg.dataset, drop=(), seed=cfg.seed)
        data, model = build_data_and_model(cfg, data)
        if resume_from is None and getattr(model, "weights", None):
            model.load_pretrained()  # transfer; a resumed run has its weights already
        trains_with_torch = isinstance(model, torch.nn.Module)
        check_metric_names(cfg, data.meta.task, trains_with_torch)
        if resume_from is None:
            run_logger.log_params(_data_params(data))
            run_logger.log_dict(asdict(data.meta), "dataset_meta.json")
        if trains_with_torch:
            metrics = _train_torch(cfg, model, data, device, run_logger, resume_from)
        else:
            metrics = _train_sklearn(cfg, model, data, run_logger)
        log.info("results: %s", " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        return metrics[cfg.optimized_metric]


def build_data_and_model(cfg: DictConfig, data: DataBundle) -> tuple[DataBundle, object]:
    """The model for `data`; a PyTorch text model first fits its tokenizer on the training
    texts and turns every split into token ids."""
    # Text models: PyTorch ones have a tokenizer, scikit-learn pipelines a vectorizer.
    reads_text = "tokenizer" in cfg.model or "vectorizer" in cfg.model
    if reads_text != is_text(data):
        raise ConfigError(_text_mismatch_message(cfg, reads_text))
    if "tokenizer" not in cfg.model:
        return data, build(cfg.model, meta=data.meta)
    tokenizer = build(cfg.model.tokenizer, drop=())
    data = tokenize_bundle(data, tokenizer)
    return data, build(cfg.model, drop=("name", "tokenizer"), meta=data.meta, tokenizer=tokenizer)


def _parameter_groups(model: torch.nn.Module, lr: float):
    """The model's own optimizer groups (e.g. smaller learning rates for early layers), or
    one group of every parameter."""
    if hasattr(model, "parameter_groups"):
        return model.parameter_groups(lr)
    return model.parameters()


def _text_mismatch_message(cfg: DictConfig, model_reads_text: bool) -> str:
    if model_reads_text:
        return (
            f"model={cfg.model.name} reads text, and dataset={cfg.dataset.name} is not text. "
            "Use it with dataset=liar, imdb, fake_news or text_csv."
        )
    return (
        f"model={cfg.model.name} takes numbers, and dataset={cfg.dataset.name} is raw text. "
        "Use model=lstm, model=tfidf_logreg or model=bow_logreg."
    )


def _train_torch(cfg, model, data: DataBundle, device, run_logger: RunLogger, resume_from) -> dict:
    trainer = _build_trainer(cfg, model, data, device, run_logger, resume_from)
    result = trainer.fit()
    # The epoch metrics of the best epoch: those weights were restored and tested.
    best = result.state.best_epoch - 1
    at_best = {key: values[best] for key, values in result.state.history.items()}
    # A metric's value in the MLflow UI is its last epoch's; the objective is the best
    # epoch's. best/val/* records the latter, so the UI and sweepers agree.
    summary = {"best_epoch": float(result.state.best_epoch)} | result.test_metrics
    summary |= {f"best/{key}": value for key, value in at_best.items() if key.startswith("val/")}
    run_logger.log_metrics(summary, result.state.epoch)
    _log_torch_artifacts(cfg, trainer.data, result, run_logger)
    return at_best | summary


def _build_trainer(cfg, model, data: DataBundle, device, run_logger, resume_from) -> Trainer:
    settings = OmegaConf.create(plain_options(cfg.trainer, drop=()))
    if resume_from is not None:
        # Keep writing next to the checkpoint we resume from: best.pt lives there too.
        settings.checkpoint.dir = str(Path(resume_from["path"]).parent)
    if settings.checkpoint.enabled:
        checkpoint.check_writable(Path(settings.checkpoint.dir))
    if settings.amp and device.type != "cuda":
        log.warning("trainer.amp=true has no effect on %s; training in float32", device.type)
    model = model.to(device)
    data = data.to(device)
    optimizer = build(cfg.optimizer, params=_parameter_groups(model, cfg.optimizer.lr))
    steps_per_epoch = optimizer_steps_in_epoch(data.train, settings)
    check_onecycle_steps(cfg.scheduler, steps_per_epoch)
    schedule = build_schedule(
        cfg.scheduler, optimizer, settings.max_epochs, steps_per_epoch, settings.monitor
    )
    checkpoint_extras = {
        "run_id": run_logger.run_id,
        "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        # Unresolved, so a loader can point it at another data directory.
        "config_unresolved": OmegaConf.to_container(cfg, resolve=False, enum_to_str=True),
        "meta": asdict(data.meta),
    }
    if hasattr(model, "tokenizer"):  # a text model cannot be rebuilt without its vocabulary
        checkpoint_extras["tokenizer"] = model.tokenizer.state_dict()
    trainer = Trainer(
        model,
        data,
        optimizer,
        schedule,
        settings,
        device,
        cfg.seed,
        log_metrics=run_logger.log_metrics,
        checkpoint_extras=checkpoint_extras,
    )
    if resume_from is not None:
        trainer.restore(resume_from["state"], resume_from["best_weights"])
        log.info("resumed after epoch %d from %s", trainer.state.epoch, resume_from["path"])
    return trainer


def _log_torch_artifacts(cfg, data: DataBundle, result, run_logger: RunLogger) -> None:
    _log_reports(run_logger, data, result.test_outputs.cpu(), step=result.state.epoch)
    if cfg.logger.log_figures:
        quality = "val/acc" if data.meta.task == CLASSIFICATION else "val/rmse"
        run_logger.log_figure(viz.learning_curves(result.state.history, quality), "learning_curves")
        _log_prediction_figures(run_logger, data, result.test_outputs)
    if cfg.logger.log_checkpoint and result.best_checkpoint is not None:
        run_logger.log_artifact(result.best_checkpoint, "checkpoints")
    if cfg.logger.log_model:
        example = data.prepare_batch(data.test.x[:5], False)
        run_logger.log_torch_model(result.model, example.cpu().numpy())


def _train_sklearn(cfg, estimator, data: DataBundle, run_logger: RunLogger) -> dict:
    result = fit_and_test(estimator, data)
    run_logger.log_metrics(result.metrics, 0)
    _log_reports(run_logger, data, result.test_outputs, step=0)
    if cfg.logger.log_figures:
        _log_prediction_figures(run_logger, data, result.test_outputs)
    if cfg.logger.log_model:
        run_logger.log_sklearn_model(result.estimator, features(data, data.test)[:5])
    return result.metrics


def _log_reports(run_logger: RunLogger, data: DataBundle, outputs: torch.Tensor, step: int):
    """Classification only: the per-class report, ROC-AUC for two classes, and for text the
    most confidently wrong test examples."""
    meta = data.meta
    if meta.task != CLASSIFICATION:
        return
    targets = data.test.y.cpu().numpy()
    report, values = reports.classification_report(outputs, targets, meta.class_names)
    run_logger.log_text(report, "reports/classification_report.txt")
    run_logger.log_dict(values, "reports/classification_report.json")
    area = reports.roc_auc(outputs, targets)
    if area is not None:
        run_logger.log_metrics({"test/roc_auc": area}, step)
    texts = getattr(data.test, "texts", None)  # raw texts, or token ids with their texts
    if texts is not None:
        wrong = reports.confidently_wrong_texts(texts, outputs, targets, meta.class_names)
        run_logger.log_text(wrong.to_csv(index=False), "reports/confidently_wrong.csv")


def _log_prediction_figures(run_logger: RunLogger, data: DataBundle, outputs: torch.Tensor) -> None:
    targets = data.test.y.cpu().numpy()
    outputs = outputs.cpu()
    meta = data.meta
    if meta.task != CLASSIFICATION:
        predictions = outputs.numpy()
        figure = viz.predicted_vs_actual(predictions, targets, "target")
        run_logger.log_figure(figure, "predicted_vs_actual")
        run_logger.log_figure(viz.residuals(predictions, targets), "residuals")
        return
    predicted = outputs.argmax(dim=1)
    counts = confusion_matrix(predicted, torch.as_tensor(targets), meta.num_classes).numpy()
    run_logger.log_figure(viz.confusion_matrix(counts, meta.class_names), "confusion_matrix")
    run_logger.log_figure(viz.per_class_accuracy(counts, meta.class_names), "per_class_accuracy")
    if len(meta.input_shape) == 3:  # images: show them
        _log_image_figures(run_logger, data, outputs, predicted.numpy(), targets)


def _log_image_figures(run_logger, data: DataBundle, outputs, predicted, targets) -> None:
    names = data.meta.class_names
    images = data.prepare_batch(data.test.x[:32], False).cpu().numpy()
    grid = viz.prediction_grid(images, targets[:32], predicted[:32], names)
    run_logger.log_figure(grid, "test_predictions")
    confidence = torch.softmax(outputs, dim=1).max(dim=1).values.numpy()
    wrong = np.flatnonzero(predicted != targets)
    surest = wrong[np.argsort(-confidence[wrong])][:16]
    if len(surest):
        images = data.prepare_batch(data.test.x[torch.as_tensor(surest)], False).cpu().numpy()
        figure = viz.confidently_wrong(
            images, targets[surest], predicted[surest], confidence[surest], names
        )
        run_logger.log_figure(figure, "confidently_wrong")


def _data_params(data: DataBundle) -> dict:
    meta = data.meta
    params = {
        "data/task": meta.task,
        "data/input_shape": list(meta.input_shape),
        "data/num_classes": meta.num_classes,
        "data/train_rows": len(data.train),
        "data/val_rows": len(data.val),
        "data/test_rows": len(data.test),
    }
    return params | {f"data/{key}": value for key, value in data.summary.items()}


def _resume_checkpoint(cfg: DictConfig) -> dict:
    """Load the checkpoint `trainer.resume` names: a path, or the id of the run to continue."""
    target = cfg.trainer.resume
    run_id = tracking.run_id_of_checkpoint_target(target)
    if run_id is not None and not Path(target).exists():
        tracking.prepare_store(cfg.logger.tracking_uri)
        path = tracking.checkpoint_dir_of_run(run_id) / checkpoint.LAST
    else:
        path = Path(target)
    state = checkpoint.load(path)
    current = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    mismatches = checkpoint.resume_mismatches(state["config"], current)
    if mismatches:
        raise CheckpointError(
            f"{path} was trained with other options; resuming would not continue the same "
            "run:\n  - " + "\n  - ".join(mismatches) + "\nResume with the original options."
        )
    best_weights = checkpoint.best_weights_beside(path, state)
    return {"path": path, "state": state, "best_weights": best_weights, "run_id": state["run_id"]}
