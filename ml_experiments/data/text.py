"""Text classification data: LIAR, IMDB, the Kaggle fake-news file and any CSV/TSV.

Each loader returns a `DataBundle` of `TextSplit`s: the raw texts (cleaning belongs
to the model, so a saved model takes raw text) and integer labels. Rows that cannot
be used (no label, no text, a duplicate) are dropped and counted in `summary`,
which the run logs as `data/*` params.
"""

from __future__ import annotations

import csv
import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data.base import DataBundle, DatasetMeta
from ml_experiments.data.splits import held_out_split, split_indices
from ml_experiments.errors import DataError

log = logging.getLogger(__name__)

LIAR_LABELS = ["pants-fire", "false", "barely-true", "half-true", "mostly-true", "true"]
LIAR_COLUMNS = [
    "id",
    "label",
    "statement",
    "subject",
    "speaker",
    "speaker_job",
    "state",
    "party",
    "barely_true_count",
    "false_count",
    "half_true_count",
    "mostly_true_count",
    "pants_on_fire_count",
    "context",
]
LIAR_SPLITS = {"train": "train.tsv", "val": "valid.tsv", "test": "test.tsv"}
IMDB_LABELS = ["neg", "pos"]


@dataclass
class TextSplit:
    """One split of raw texts (a NumPy array of str, as scikit-learn takes them) and labels.
    A record of several fields (LIAR's statement, speaker, ...) is one text, its fields
    joined, and also each field apart in `fields`, for a model that reads them apart."""

    texts: np.ndarray
    y: torch.Tensor
    fields: pd.DataFrame | None = None  # one str column per field, "" where missing

    def __len__(self) -> int:
        return len(self.y)


def is_text(data: DataBundle) -> bool:
    return isinstance(data.train, TextSplit)


# --- LIAR -------------------------------------------------------------------------


def load_liar(name: str, root: str, fields: list[str], binary: bool, *, seed: int) -> DataBundle:
    """LIAR (Wang 2017) with its official splits; six labels, or false/true when `binary`."""
    del seed  # the splits are fixed
    folder = Path(root)
    frames = {split: _read_liar(folder / file) for split, file in LIAR_SPLITS.items()}
    unknown_fields = sorted(set(fields) - set(LIAR_COLUMNS))
    if unknown_fields:
        raise DataError(
            f"dataset.fields names {unknown_fields}, not LIAR columns. "
            f"Pick from: {', '.join(LIAR_COLUMNS)}."
        )
    if "label" in fields:
        raise DataError("dataset.fields holds 'label', the answer itself: leave it out")
    leaking = [name for name in fields if name.endswith("_count")]
    if leaking:
        log.warning(
            "dataset.fields holds %s: LIAR's credit-history counts include each statement's "
            "own rating, so they leak its label and inflate accuracy",
            leaking,
        )
    class_names = ["false", "true"] if binary else LIAR_LABELS
    splits, summary = {}, {}
    for split, frame in frames.items():
        unknown = sorted(set(frame["label"]) - set(LIAR_LABELS))
        if unknown:
            raise DataError(
                f"{folder / LIAR_SPLITS[split]} has labels {unknown} besides LIAR's six."
            )
        labels = frame["label"].map(LIAR_LABELS.index).to_numpy()
        if binary:  # pants-fire, false, barely-true -> false; the other three -> true
            labels = (labels >= 3).astype(np.int64)
        splits[split] = TextSplit(
            _joined(frame, fields),
            torch.tensor(labels, dtype=torch.long),
            frame[fields].reset_index(drop=True),
        )
        summary[f"{split}_rows_read"] = len(frame)
    meta = _text_meta(name, class_names)
    return DataBundle(splits["train"], splits["val"], splits["test"], meta, summary=summary)


def _read_liar(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(
            f"LIAR file {path} not found. Put train.tsv, valid.tsv and test.tsv from "
            "https://www.cs.ucsb.edu/~william/data/liar_dataset.zip in "
            "<data_dir>/liar/, or set dataset.root."
        )
    # Statements hold quotes that are not CSV quoting: read every character as it is.
    frame = pd.read_csv(
        path, sep="\t", header=None, quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False
    )
    if frame.shape[1] != len(LIAR_COLUMNS):
        raise DataError(
            f"{path} has {frame.shape[1]} tab-separated columns; LIAR has {len(LIAR_COLUMNS)}."
        )
    frame.columns = LIAR_COLUMNS
    return frame


# --- IMDB -------------------------------------------------------------------------


def load_imdb(
    name: str,
    path: str,
    val_fraction: float,
    train_subset: int | None,
    test_subset: int | None,
    *,
    seed: int,
) -> DataBundle:
    """The Large Movie Review Dataset (Maas et al. 2011), from its folder or its .tar.gz.

    Validation is a seeded, stratified part of the 25,000 training reviews; the
    training subset is a seeded random sample, for quick runs. The test subset is the
    same for every seed, so runs with different seeds are scored on the same reviews.
    """
    reviews = _read_imdb(Path(path))
    splits, summary = {}, {}
    samplers = {"train": np.random.default_rng(seed), "test": np.random.default_rng(0)}
    for split, subset in (("train", train_subset), ("test", test_subset)):
        texts, labels = reviews[split]
        summary[f"{split}_reviews_read"] = len(labels)
        if subset is not None and subset < len(labels):
            keep = np.sort(samplers[split].choice(len(labels), size=subset, replace=False))
            texts, labels = texts[keep], labels[keep]
        splits[split] = (texts, labels)
    texts, labels = splits["train"]
    train, val = held_out_split(np.arange(len(labels)), val_fraction, seed, stratify=labels)
    train, val = np.sort(train), np.sort(val)
    meta = _text_meta(name, IMDB_LABELS)
    return DataBundle(
        _text_split(texts[train], labels[train]),
        _text_split(texts[val], labels[val]),
        _text_split(*splits["test"]),
        meta,
        summary=summary,
    )


def _read_imdb(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (texts, labels), "test": ...} from aclImdb/ or a .tar.gz that holds it."""
    found: dict[str, list[tuple[str, str, int]]] = {"train": [], "test": []}
    for member_name, read in _imdb_files(path):
        parts = Path(member_name).parts  # aclImdb/<split>/<pos|neg>/<id>_<rating>.txt
        if len(parts) == 4 and parts[1] in found and parts[2] in IMDB_LABELS:
            text = read().decode("utf-8")
            found[parts[1]].append((parts[3], text, IMDB_LABELS.index(parts[2])))
    if not found["train"] or not found["test"]:
        raise DataError(
            f"no aclImdb/{{train,test}}/{{pos,neg}}/*.txt reviews in {path}. Point dataset.path "
            "at aclImdb_v1.tar.gz (https://ai.stanford.edu/~amaas/data/sentiment/) or the "
            "folder it unpacks to."
        )
    reviews = {}
    for split, items in found.items():
        items.sort()  # file order differs between a folder and an archive
        reviews[split] = (
            np.array([text for _, text, _ in items], dtype=object),
            np.array([label for _, _, label in items], dtype=np.int64),
        )
    return reviews


def _imdb_files(path: Path):
    """(name relative to the aclImdb parent, reader) for each file under `path`."""
    if path.is_dir():
        base = path.parent if path.name == "aclImdb" else path
        for file in sorted(base.glob("aclImdb/*/*/*.txt")):
            yield str(file.relative_to(base)), file.read_bytes
    elif path.is_file():
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(".txt"):
                    handle = archive.extractfile(member)
                    yield member.name, handle.read
    else:
        raise DataError(
            f"IMDB data not found at {path}. Download aclImdb_v1.tar.gz from "
            "https://ai.stanford.edu/~amaas/data/sentiment/ and set dataset.path to it."
        )


# --- any CSV or TSV, and the Kaggle fake-news file ------------------------------------


def load_text_csv(
    name: str,
    path: str,
    text_columns: list[str],
    label_column: str,
    labels: list[str] | None,
    label_names: list[str] | None,
    separator: str,
    drop_duplicates: bool,
    val_fraction: float,
    test_fraction: float,
    *,
    seed: int,
) -> DataBundle:
    """A table with text columns (joined with newlines) and a label column.

    Rows with no label or no text, and repeated texts, are dropped and counted.
    `labels` fixes the class order and rejects any other label; without it the
    sorted labels found are the classes.
    """
    frame = _read_table(Path(path), separator)
    missing = [column for column in [*text_columns, label_column] if column not in frame]
    if missing:
        raise DataError(
            f"{path} has no column {', '.join(map(repr, missing))}. Its columns: "
            f"{', '.join(frame.columns)}. Set dataset.text_columns and dataset.label_column."
        )
    summary = {"rows_read": len(frame)}
    texts = pd.Series(_joined(frame, text_columns), index=frame.index)
    label_text = frame[label_column].astype("string").str.strip()
    usable = label_text.notna() & (label_text != "")
    summary["rows_without_label_dropped"] = int((~usable).sum())
    has_text = texts.str.strip() != ""
    summary["rows_without_text_dropped"] = int((usable & ~has_text).sum())
    usable &= has_text
    if drop_duplicates:
        repeated = texts.duplicated() & usable
        summary["duplicate_texts_dropped"] = int(repeated.sum())
        usable &= ~repeated
    texts, label_text = texts[usable].to_numpy(dtype=object), label_text[usable].to_numpy(str)
    summary["rows_used"] = len(texts)
    if len(texts) == 0:
        raise DataError(f"no usable rows left in {path} after dropping {summary}.")
    classes = _classes(label_text, labels, path)
    if label_names and len(label_names) != len(classes):
        raise DataError(
            f"dataset.label_names has {len(label_names)} names for {len(classes)} labels {classes}."
        )
    targets = np.array([classes.index(label) for label in label_text], dtype=np.int64)
    train, val, test = split_indices(len(targets), val_fraction, test_fraction, seed, targets)
    meta = _text_meta(name, list(label_names) if label_names else classes)
    log.info("%s: %s", name, ", ".join(f"{key}={value}" for key, value in summary.items()))
    return DataBundle(
        _text_split(texts[train], targets[train]),
        _text_split(texts[val], targets[val]),
        _text_split(texts[test], targets[test]),
        meta,
        summary=summary,
    )


def _read_table(path: Path, separator: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"text table {path} not found. Set dataset.path to the CSV or TSV file.")
    try:
        return pd.read_csv(path, sep=separator, dtype=str, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(
            f"cannot read {path} as a table separated by {separator!r}: {error}. "
            "Check dataset.separator (\\t for TSV)."
        ) from error


def _classes(found: np.ndarray, expected: list[str] | None, path: str) -> list[str]:
    present = sorted(set(found.tolist()))
    if expected is None:
        if len(present) < 2:
            raise DataError(f"{path} has only the label {present}: a classifier needs two or more.")
        return present
    unexpected = sorted(set(present) - set(expected))
    if unexpected:
        raise DataError(
            f"{path} has labels {unexpected} that dataset.labels {list(expected)} does not "
            "list. Fix dataset.labels or dataset.label_column."
        )
    return list(expected)


# --- shared -----------------------------------------------------------------------


def _joined(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Each row's text columns, missing ones skipped, joined by newlines."""
    parts = frame[columns].astype("string").fillna("")
    joined = parts.apply(lambda row: "\n".join(value for value in row if value.strip()), axis=1)
    return joined.to_numpy(dtype=object)


def _text_meta(name: str, class_names: list[str]) -> DatasetMeta:
    """Raw texts are one value each: no input shape until a tokenizer makes them ids."""
    return DatasetMeta(
        name=name,
        task=Task.classification,
        input_shape=(),
        class_names=class_names,
        modality=Modality.text,
    )


def _text_split(texts: np.ndarray, labels: np.ndarray) -> TextSplit:
    return TextSplit(np.asarray(texts, dtype=object), torch.tensor(labels, dtype=torch.long))
