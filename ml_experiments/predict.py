"""Predict with a trained model, from its MLflow run id or a checkpoint file.

Images: `python -m ml_experiments.predict run_id=<id> inputs=<image file or folder>`.
Each image is converted as the training images were (grey or colour, resized to the
training size, inverted when it is dark on light).

Text: `python -m ml_experiments.predict run_id=<id> text="A slow start, but ..."`, or
`inputs=<file.txt>` with one text per line. The model cleans and tokenizes raw text
itself, as it did in training. A model that reads fields apart (liar_meta) takes
`inputs=<file.csv or .tsv>` with a header row naming them.

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
from ml_experiments.errors import DataError, UserError, exit_on_user_error

register_configs()
log = logging.getLogger("ml_experiments.predict")
SHOWN_TEXT_CHARACTERS = 60
TEXT_BATCH_SIZE = 64
TABLE_SEPARATORS = {".csv": ",", ".tsv": "\t"}  # inputs= for a model that reads fields


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
    from ml_experiments.models.protocols import ReadsFields
    from ml_experiments.tracking.loading import load_trained

    _check_arguments(cfg)
    trained = load_trained(cfg.run_id, cfg.checkpoint, cfg.tracking_uri, cfg.model_uri)
    if isinstance(trained.model, ReadsFields):
        names, probabilities = _fields_probabilities(trained, cfg)
    elif _reads_text(trained):
        texts = [cfg.text] if cfg.text is not None else read_texts(Path(cfg.inputs))
        names, probabilities = _text_probabilities(trained, texts, cfg.batch_size)
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


def _check_arguments(cfg: DictConfig) -> None:
    if (cfg.inputs is None) == (cfg.text is None):
        raise UserError('give exactly one of inputs=<file or folder> or text="<a text>"')
    if cfg.text is not None and not cfg.text.strip():
        # Training drops empty texts: a prediction for one would mean nothing.
        raise UserError(
            f"text={cfg.text!r} holds no words: give the text to classify, "
            'text="<a text>", or inputs=<file> with one text per line'
        )


def _reads_text(trained) -> bool:
    return trained.meta.modality == Modality.text


def read_texts(path: Path) -> list[str]:
    """The texts of `inputs=<file>`, one a line. Blank lines are skipped, as training drops
    empty texts; a file with no text, or not a text file at all, is refused."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(f"inputs={path} {what}: for text, give a file with one text per line")
    lines = _decoded(path.read_bytes(), path).splitlines()
    texts = [line for line in lines if line.strip()]
    if not texts:
        raise DataError(
            f"inputs={path} holds no text (it is empty or all its lines are blank): "
            "give one text per line"
        )
    if len(texts) < len(lines):
        log.info("skipped %d blank lines of inputs=%s", len(lines) - len(texts), path)
    return texts


def _decoded(data: bytes, path: Path) -> str:
    """The file's bytes as text, without the byte-order mark some editors write first."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_text(path, data, error.start) from error
    if "\x00" in text:  # valid UTF-8, but only binary files (images, models) hold a NUL
        raise _not_text(path, data, data.index(b"\x00"))
    return text.removeprefix("\ufeff")


def _not_text(path: Path, data: bytes, offset: int) -> DataError:
    return DataError(
        f"inputs={path} is not a UTF-8 text file (byte {offset} is 0x{data[offset]:02x}); "
        "this model reads text: give a file with one text per line, saved as UTF-8"
    )


def _text_probabilities(trained, texts: list[str], batch_size: int):
    import torch

    from ml_experiments.engine.sklearn_fit import class_log_probabilities
    from ml_experiments.models.protocols import ReadsText

    if isinstance(trained.model, ReadsText):
        # A transformer's attention grows with the square of the length: keep batches small.
        size = min(batch_size, TEXT_BATCH_SIZE)
        chunks = [
            trained.model.predict_texts(texts[start : start + size])
            for start in range(0, len(texts), size)
        ]
        return texts, torch.cat(chunks)
    return texts, class_log_probabilities(trained.model, texts, trained.meta.class_names).exp()


def _fields_probabilities(trained, cfg: DictConfig):
    """A model that reads fields apart (liar_meta): each row shown by its text field."""
    from ml_experiments.engine.sklearn_fit import class_log_probabilities

    model = trained.model
    rows = _field_rows(cfg, model)
    probabilities = class_log_probabilities(model, rows, trained.meta.class_names).exp()
    return rows[model.text_field].tolist(), probabilities


def _field_rows(cfg: DictConfig, model):
    """The rows to classify, a column per field `model` reads: from a .csv or .tsv file with
    a header row naming the fields, or from text= or a file of one text per line, which
    give the text field alone."""
    import pandas as pd

    path = Path(cfg.inputs) if cfg.inputs is not None else None
    if path is not None and path.suffix.lower() in TABLE_SEPARATORS:
        return read_table(path)
    texts = [cfg.text] if cfg.text is not None else read_texts(path)
    text_field = model.text_field
    others = [name for name in model.field_names if name != text_field]
    log.info(
        "only the text field %s is given; %s are empty. To use them, give inputs=<a .csv or "
        ".tsv file> with a header row naming the fields",
        text_field,
        ", ".join(others),
    )
    return pd.DataFrame({text_field: texts} | {name: [""] * len(texts) for name in others})


def read_table(path: Path):
    """The rows of a .csv or .tsv file with a header row, every value as text."""
    import io

    import pandas as pd

    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(f"inputs={path} {what}: give a table with a header row naming the fields")
    text = _decoded(path.read_bytes(), path)
    separator = TABLE_SEPARATORS[path.suffix.lower()]
    try:
        table = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"inputs={path} does not read as a {path.suffix} table: {error}") from error
    if table.empty:
        raise DataError(f"inputs={path} has a header row and no rows to classify")
    return table


def _image_probabilities(trained, cfg: DictConfig):
    import torch

    from ml_experiments.data.image_files import batch_as_trained, kept_shape

    meta = trained.meta
    if meta.modality != Modality.image or not isinstance(trained.model, torch.nn.Module):
        raise UserError(
            f"{trained.source} was trained on {meta.name}, which is neither images nor text; "
            "predict reads image files and texts. Use python -m ml_experiments.evaluate for it."
        )
    if cfg.inputs is None:
        raise UserError(f"{trained.source} classifies images: give inputs=<image file or folder>.")
    files, images = _readable_images(cfg.inputs, kept_shape(meta), cfg.invert.value)
    images = batch_as_trained(images, meta)
    with torch.no_grad():
        probabilities = torch.cat(
            [torch.softmax(trained.model(batch), dim=1) for batch in images.split(cfg.batch_size)]
        )
    return [str(path) for path in files], probabilities


def _readable_images(inputs: str, shape, invert: str):
    """The files of `inputs` that read as images, and those images; each unreadable one is
    named with its reason, and only a folder with none readable is an error."""
    from ml_experiments.data.image_files import find_images, load_image

    files = find_images(inputs)
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
        raise DataError(
            f"none of the {len(files)} files could be read as an image (inputs={inputs}, each "
            "named above): give image files, such as PNG or JPEG"
        )
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
    from ml_experiments.config.suggestions import report_misspellings
    from ml_experiments.tracking.registry import model_argument_renamed

    sys.argv = model_argument_renamed(quote_text_argument(sys.argv))
    report_misspellings()
    main()
