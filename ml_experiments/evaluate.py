"""Evaluate a trained model again: `python -m ml_experiments.evaluate run_id=<id>`.

Reloads the model (from its MLflow run or a checkpoint file), rebuilds the data
set the run was trained on (from the current data directory, with the run's seed
and split), and prints the metrics of the test (or validation) split.
"""

import json
import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ml_experiments.config import register_configs
from ml_experiments.errors import exit_on_user_error

register_configs()
log = logging.getLogger("ml_experiments.evaluate")


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> dict[str, float]:
    with exit_on_user_error(log):
        metrics = evaluate(cfg)
    output = Path(HydraConfig.get().runtime.output_dir) / "metrics.json"
    output.write_text(json.dumps(metrics, indent=2))
    width = max(map(len, metrics))
    print("\n".join(f"{name:<{width}}  {value:.4f}" for name, value in metrics.items()))
    return metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    import torch

    from ml_experiments.config.build import build
    from ml_experiments.data import TensorSplit
    from ml_experiments.engine.loop import predict_split
    from ml_experiments.engine.metrics import compute_metrics
    from ml_experiments.engine.sklearn_fit import model_outputs
    from ml_experiments.models.protocols import ReadsText
    from ml_experiments.tracking.loading import load_trained

    trained = load_trained(cfg.run_id, cfg.checkpoint, cfg.tracking_uri, cfg.model_uri)
    run_config = trained.config
    run_config.paths.data_dir = cfg.paths.data_dir  # the data as it is found here and now
    run_config.paths.run_dir = cfg.paths.run_dir
    data = build(run_config.dataset, drop=(), seed=run_config.seed)
    _check_same_data(trained, data, cfg.allow_changed_data)
    split = getattr(data, cfg.split)
    task = trained.meta.task
    if isinstance(trained.model, ReadsText):  # a PyTorch text model: its own vocabulary
        split = TensorSplit(trained.model.tokenizer.encode(split.texts), split.y)
    if isinstance(trained.model, torch.nn.Module):
        outputs = predict_split(trained.model, split, data.prepare_batch, cfg.batch_size, task)
    else:
        outputs = model_outputs(trained.model, data, split)
    metrics = compute_metrics(task, outputs, split.y)
    log.info("%s on %d %s examples of %s", trained.source, len(split), cfg.split, data.meta.name)
    return {f"{cfg.split}/{name}": value for name, value in metrics.items()}


def _check_same_data(trained, data, allow_changed: bool) -> None:
    """Refuse data that differs from what the model was trained and tested on: its test
    split would hold other examples, maybe ones it was trained on."""
    from ml_experiments.data.fingerprint import fingerprint, recorded
    from ml_experiments.errors import DataError

    then = recorded(trained.meta)
    if then is None:
        log.warning(
            "%s recorded no digest of its data: cannot check it is unchanged", trained.source
        )
        return
    changes = fingerprint(data).differences(then)
    if not changes:
        return
    what = f"the data of {data.meta.name} changed since {trained.source} was trained: " + "; ".join(
        changes
    )
    if not allow_changed:
        raise DataError(
            f"{what}. Evaluate on the data it was trained on, or pass "
            "allow_changed_data=true to evaluate on the data as it is now."
        )
    log.warning("%s (allow_changed_data=true: evaluating on it anyway)", what)


if __name__ == "__main__":
    from ml_experiments.config.suggestions import report_misspellings
    from ml_experiments.tracking.registry import model_argument_renamed

    sys.argv = model_argument_renamed(sys.argv)
    report_misspellings()
    main()
