"""Predict image files: `python -m ml_experiments.predict run_id=<id> inputs=<file or folder>`.

Each image is converted as the training images were (grey or colour, resized to
the training size, inverted when it is dark on light) and the top classes are
printed and written to predictions.csv in the output folder.
"""

import csv
import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ml_experiments.config import register_configs
from ml_experiments.errors import UserError, exit_on_user_error

register_configs()
log = logging.getLogger("ml_experiments.predict")


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> list[dict]:
    with exit_on_user_error(log):
        rows = predict(cfg)
    output = Path(HydraConfig.get().runtime.output_dir) / "predictions.csv"
    with output.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    width = max(len(row["file"]) for row in rows)
    for row in rows:
        print(
            f"{row['file']:<{width}}  {row['prediction']:<12} {row['confidence']:.1%}  {row['top']}"
        )
    log.info("wrote %s", output)
    return rows


def predict(cfg: DictConfig) -> list[dict]:
    import torch

    from ml_experiments.data.image_files import find_images, load_image
    from ml_experiments.loading import load_trained

    trained = load_trained(cfg.run_id, cfg.checkpoint, cfg.tracking_uri)
    meta = trained.meta
    if len(meta.input_shape) != 3 or not isinstance(trained.model, torch.nn.Module):
        raise UserError(
            f"{trained.source} was trained on {meta.name}, not on images; predict reads image "
            "files. Use python -m ml_experiments.evaluate for it instead."
        )
    files = find_images(cfg.inputs)
    images = torch.stack([load_image(path, meta.input_shape, cfg.invert.value) for path in files])
    with torch.no_grad():
        probabilities = torch.cat(
            [torch.softmax(trained.model(batch), dim=1) for batch in images.split(cfg.batch_size)]
        )
    top = probabilities.topk(min(cfg.top_k, meta.num_classes), dim=1)
    return [
        {
            "file": str(path),
            "prediction": meta.class_names[indices[0]],
            "confidence": round(float(values[0]), 4),
            "top": ", ".join(
                f"{meta.class_names[i]} {v:.1%}" for i, v in zip(indices, values, strict=True)
            ),
        }
        for path, values, indices in zip(
            files, top.values.tolist(), top.indices.tolist(), strict=True
        )
    ]


if __name__ == "__main__":
    main()
