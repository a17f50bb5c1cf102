"""Predict with a trained model, from its MLflow run id or a checkpoint file.

Images: `python -m ml_experiments.predict run_id=<id> inputs=<image file or folder>`.
Each image is converted as the training images were (grey or colour, resized to the
training size, inverted when it is dark on light).

Text: `python -m ml_experiments.predict run_id=<id> text="A slow start, but ..."`, or
`inputs=<file.txt>` with one text per line. The model cleans and tokenizes raw text
itself, as it did in training.

The top classes are printed and written to predictions.csv in the output folder.
"""

import csv
import logging
import re
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ml_experiments.config import register_configs
from ml_experiments.config.schemas import Modality
from ml_experiments.errors import UserError, exit_on_user_error

register_configs()
log = logging.getLogger("ml_experiments.predict")
SHOWN_TEXT_CHARACTERS = 60
TEXT_BATCH_SIZE = 64


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> list[dict]:
    with exit_on_user_error(log):
        rows = predict(cfg)
    output = Path(HydraConfig.get().runtime.output_dir) / "predictions.csv"
    with output.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    shown = [_shortened(row["input"]) for row in rows]
    width = max(map(len, shown))
    for row, name in zip(rows, shown, strict=True):
        print(f"{name:<{width}}  {row['prediction']:<12} {row['confidence']:.1%}  {row['top']}")
    log.info("wrote %s", output)
    return rows


def predict(cfg: DictConfig) -> list[dict]:
    from ml_experiments.tracking.loading import load_trained

    if (cfg.inputs is None) == (cfg.text is None):
        raise UserError('give exactly one of inputs=<file or folder> or text="<a text>"')
    trained = load_trained(cfg.run_id, cfg.checkpoint, cfg.tracking_uri)
    if _reads_text(trained):
        names, probabilities = _text_probabilities(trained, cfg)
    else:
        names, probabilities = _image_probabilities(trained, cfg)
    class_names = trained.meta.class_names
    top = probabilities.topk(min(cfg.top_k, len(class_names)), dim=1)
    return [
        {
            "input": name,
            "prediction": class_names[indices[0]],
            "confidence": round(float(values[0]), 4),
            "top": ", ".join(
                f"{class_names[i]} {v:.1%}" for i, v in zip(indices, values, strict=True)
            ),
        }
        for name, values, indices in zip(
            names, top.values.tolist(), top.indices.tolist(), strict=True
        )
    ]


def _reads_text(trained) -> bool:
    return trained.meta.modality == Modality.text


def _text_probabilities(trained, cfg: DictConfig):
    import torch

    from ml_experiments.engine.sklearn_fit import class_log_probabilities
    from ml_experiments.models.protocols import ReadsText

    if cfg.text is not None:
        texts = [cfg.text]
    else:
        path = Path(cfg.inputs)
        if not path.is_file():
            raise UserError(
                f"inputs={path}: no such file. For text, give a file with one text per line."
            )
        texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if isinstance(trained.model, ReadsText):
        # A transformer's attention grows with the square of the length: keep batches small.
        size = min(cfg.batch_size, TEXT_BATCH_SIZE)
        chunks = [
            trained.model.predict_texts(texts[start : start + size])
            for start in range(0, len(texts), size)
        ]
        return texts, torch.cat(chunks)
    return texts, class_log_probabilities(trained.model, texts, trained.meta.class_names).exp()


def _image_probabilities(trained, cfg: DictConfig):
    import torch
    import torch.nn.functional as F

    from ml_experiments.data.image_files import find_images

    meta = trained.meta
    if meta.modality != Modality.image or not isinstance(trained.model, torch.nn.Module):
        raise UserError(
            f"{trained.source} was trained on {meta.name}, which is neither images nor text; "
            "predict reads image files and texts. Use python -m ml_experiments.evaluate for it."
        )
    if cfg.inputs is None:
        raise UserError(f"{trained.source} classifies images: give inputs=<image file or folder>.")
    # As in training: at the size the images were kept at, then resized like every batch.
    shape = meta.stored_shape or meta.input_shape
    files, images = _readable_images(find_images(cfg.inputs), shape, cfg.invert.value)
    images = torch.stack(images)
    if shape != meta.input_shape:
        images = F.interpolate(images, size=meta.input_shape[1:], mode="bilinear", antialias=False)
    with torch.no_grad():
        probabilities = torch.cat(
            [torch.softmax(trained.model(batch), dim=1) for batch in images.split(cfg.batch_size)]
        )
    return [str(path) for path in files], probabilities


def _readable_images(files: list[Path], shape, invert: str):
    """The files that read as images, and those images; each unreadable one is named with
    its reason, and only a folder with none readable is an error."""
    from ml_experiments.data.image_files import load_image
    from ml_experiments.errors import DataError

    readable, images, problems = [], [], []
    for path in files:
        try:
            images.append(load_image(path, shape, invert))
            readable.append(path)
        except DataError as error:
            problems.append(str(error))
    for problem in problems:
        log.warning("skipped: %s", problem)
    if not readable:
        raise UserError(f"none of the {len(files)} files could be read as an image")
    return readable, images


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SHOWN_TEXT_CHARACTERS:
        return text
    return text[: SHOWN_TEXT_CHARACTERS - 3] + "..."


def quote_text_argument(arguments: list[str]) -> list[str]:
    """`text=<any raw text>` as one quoted Hydra value: a review may hold commas, quotes,
    "!" or "${", which Hydra's override grammar would otherwise read as syntax."""
    quoted = []
    for argument in arguments:
        if argument.startswith("text="):
            raw = argument.removeprefix("text=")
            # Hydra and OmegaConf read a backslash as an escape only before a quote, "${"
            # or the end.
            escaped = re.sub(r"(\\+)(?='|\$\{|$)", lambda run: run.group(1) * 2, raw)
            escaped = escaped.replace("'", "\\'").replace("${", "\\${")
            argument = f"text='{escaped}'"
        quoted.append(argument)
    return quoted


if __name__ == "__main__":
    sys.argv = quote_text_argument(sys.argv)
    main()
