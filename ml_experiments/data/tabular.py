"""Tabular datasets: scikit-learn's bundled digits, Boston housing, and any CSV.

Every transform (imputation, standardization, one-hot encoding) is fitted on
the training split only, so validation and test numbers are honest.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data.base import DataBundle, DatasetMeta, RawTable, TensorSplit
from ml_experiments.data.splits import split_indices
from ml_experiments.errors import DataError

log = logging.getLogger(__name__)

BOSTON_OPENML_ID = 531  # the original 506-row Boston housing table
DIGITS_PIXEL_MAX = 16.0  # the digits file's pixels run from 0 to 16
DIGITS_SIDE = 8
# Cells read as gaps (pandas knows most; listed to match them padded with spaces too);
# dataset.na_values adds more.
MISSING_MARKERS = ["", "?", "-", "--", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL"]
FLOAT32_MAX = float(np.finfo(np.float32).max)
# A regression target beyond this makes a squared error above FLOAT32_MAX: an inf loss.
FLOAT32_SQUARE_ROOT = math.sqrt(FLOAT32_MAX)
# A text column with at least this share of numbers is numeric data with typos, not text.
MOSTLY_NUMBERS = 0.8
# A text column with a different value in at least this share of its rows (and at least
# MANY_VALUES of them) is an identifier, a date or free text, not categories.
MOSTLY_UNIQUE = 0.9
MANY_VALUES = 10
EXAMPLE_LENGTH = 40  # characters of a cell a message shows
# Separators that a file read with another one shows inside its single column's name,
# as an override to pass (quoted for the shell and Hydra).
SEPARATOR_OVERRIDES = {
    ";": "\"dataset.separator=';'\"",
    "\t": "\"dataset.separator='\\t'\"",
    "|": "\"dataset.separator='|'\"",
    ",": "\"dataset.separator=','\"",
}
# Numbers that pandas reads as text, and the options that read them as numbers.
NUMBER_FORMATS = [
    (r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", "thousands separators", "\"dataset.thousands=','\""),
    (r"[+-]?\d+,\d+", "decimal commas", "\"dataset.decimal=','\""),
    (
        r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?",
        "thousands dots and decimal commas",
        "dataset.thousands=. \"dataset.decimal=','\"",
    ),
]
# A number with a currency sign before it or a unit after it: $5, 12 kg, 7.5%.
NUMBER_WITH_UNIT = (
    r"(?P<before>[$€£¥₹]?)\s*[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*"
    r"(?P<after>([^\W\d_]|[%°])[^\d\x00-\x1f]*)?"
)
# The first bytes of files that are not text in the expected encoding: what they look
# like, and what to do instead.
FILE_SIGNATURES = {
    b"\x89PNG": ("a PNG image", "Set dataset.path to a CSV file"),
    b"\xff\xd8\xff": ("a JPEG image", "Set dataset.path to a CSV file"),
    b"%PDF": ("a PDF document", "Set dataset.path to a CSV file"),
    b"PK\x03\x04": ("a ZIP archive (an .xlsx workbook is one)", "Save the sheet as CSV"),
    b"\x1f\x8b": ("gzip-compressed data", "Name it .csv.gz to have it decompressed"),
    b"\xff\xfe": ("UTF-16 text", "Set dataset.encoding=utf-16"),
    b"\xfe\xff": ("UTF-16 text", "Set dataset.encoding=utf-16"),
}


class DigitsPixels:
    """The digits' preparation: each pixel from the file's 0-16 to [0, 1]; nothing to fit."""

    def transform(self, rows) -> np.ndarray:
        return np.asarray(rows, dtype=np.float32) / DIGITS_PIXEL_MAX


@dataclass
class CsvLayout:
    """How a file writes its table: what pandas needs to read it."""

    separator: str
    encoding: str
    markers: list[str]  # cells read as gaps
    thousands: str | None
    decimal: str
    categorical_columns: list[str]  # read as text whatever they hold


def load_digits(name: str, val_fraction: float, test_fraction: float, *, seed: int) -> DataBundle:
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1]; installed with scikit-learn."""
    table = _bundled_digits()
    pixels = table[:, :-1]
    features = torch.tensor(DigitsPixels().transform(pixels))
    targets = table[:, -1].astype(np.int64)
    labels = torch.tensor(targets, dtype=torch.long)
    train, val, test = split_indices(
        len(labels), val_fraction, test_fraction, seed, stratify=targets
    )
    meta = DatasetMeta(
        name=name,
        task=Task.classification,
        input_shape=(features.shape[1],),
        class_names=[str(digit) for digit in range(10)],
        modality=Modality.tabular,
    )
    return DataBundle(
        TensorSplit(features[train], labels[train]),
        TensorSplit(features[val], labels[val]),
        TensorSplit(features[test], labels[test]),
        meta,
        summary={"rows_used": len(labels)},
        raw_table=RawTable(DigitsPixels(), pd.DataFrame(pixels[test], columns=_pixel_names())),
    )


def _pixel_names() -> list[str]:
    """The digits' columns as scikit-learn names them: pixel_<row>_<column>."""
    return [f"pixel_{row}_{column}" for row in range(DIGITS_SIDE) for column in range(DIGITS_SIDE)]


def _bundled_digits() -> np.ndarray:
    """The file sklearn.datasets.load_digits reads (64 pixels and the digit per row), read
    here directly: importing sklearn.datasets takes about a second, the file 30 ms."""
    from importlib.util import find_spec

    sklearn_folder = Path(find_spec("sklearn").submodule_search_locations[0])
    return np.loadtxt(sklearn_folder / "datasets" / "data" / "digits.csv.gz", delimiter=",")


def load_boston(
    name: str, path: str, target: str, download: bool, *, seed: int, **csv_options
) -> DataBundle:
    """Boston housing from `path`; fetched from OpenML into `path` when missing. The other
    options are `load_csv`'s."""
    csv_path = Path(path)
    if not csv_path.exists():
        if not download:
            raise DataError(_missing_boston_message(csv_path, reason="dataset.download=false"))
        _download_boston(csv_path)
    return load_csv(name=name, path=path, target=target, seed=seed, **csv_options)


def _download_boston(csv_path: Path) -> None:
    from sklearn.datasets import fetch_openml

    log.info("Boston housing not found at %s; fetching it from OpenML", csv_path)
    try:
        frame = fetch_openml(data_id=BOSTON_OPENML_ID, as_frame=True, parser="auto").frame
    except Exception as error:  # any network or parsing failure means: no data here
        raise DataError(_missing_boston_message(csv_path, reason=str(error))) from error
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: parallel jobs never read half a file.
    partial_path = csv_path.with_name(f".{csv_path.name}.{os.getpid()}.tmp")
    frame.astype(float).to_csv(partial_path, index=False)
    os.replace(partial_path, csv_path)


def _missing_boston_message(csv_path: Path, reason: str) -> str:
    return (
        f"Boston housing data not found at {csv_path} and it could not be fetched ({reason}). "
        "Put the 506-row CSV (header CRIM,...,LSTAT,MEDV) there, or point the data directory "
        "at a folder holding boston/boston.csv: paths.data_dir=/path/to/data or "
        "ML_EXPERIMENTS_DATA_DIR=/path/to/data."
    )


def load_csv(
    name: str,
    path: str,
    target: str,
    task: Task,
    drop_columns: list[str],
    numeric_imputer: str,
    separator: str,
    na_values: list[str],
    encoding: str,
    thousands: str | None,
    decimal: str,
    categorical_columns: list[str],
    val_fraction: float,
    test_fraction: float,
    *,
    seed: int,
) -> DataBundle:
    """Any CSV with a target column: impute, one-hot encode and standardize the rest."""
    layout = CsvLayout(
        separator=_unescaped(separator),
        encoding=encoding,
        markers=[*MISSING_MARKERS, *na_values],
        thousands=thousands,
        decimal=decimal,
        categorical_columns=list(categorical_columns),
    )
    frame = _checked_table(path, target, drop_columns, layout)
    frame, summary = _usable_rows(frame, target, numeric_imputer, path)
    features = frame.drop(columns=[target])
    targets, class_names = _encode_target(frame[target], task, layout, path)
    if task == Task.classification:
        _check_class_counts(targets, class_names, path)
    train, val, test = split_indices(
        len(frame),
        val_fraction,
        test_fraction,
        seed,
        stratify=targets if task == Task.classification else None,
    )
    preprocessor = _feature_transform(features, numeric_imputer)
    train_x = preprocessor.fit_transform(features.iloc[train])

    def split(rows: np.ndarray, x: np.ndarray) -> TensorSplit:
        dtype = torch.long if task == Task.classification else torch.float32
        return TensorSplit(
            torch.tensor(x, dtype=torch.float32), torch.tensor(targets[rows], dtype=dtype)
        )

    meta = DatasetMeta(
        name=name,
        task=task,
        input_shape=(train_x.shape[1],),
        class_names=class_names,
        feature_names=[str(feature) for feature in preprocessor.get_feature_names_out()],
        modality=Modality.tabular,
    )
    log.info("%s: %s", name, ", ".join(f"{key}={value}" for key, value in summary.items()))
    return DataBundle(
        split(train, train_x),
        split(val, preprocessor.transform(features.iloc[val])),
        split(test, preprocessor.transform(features.iloc[test])),
        meta,
        summary=summary,
        raw_table=RawTable(preprocessor, features.iloc[test].reset_index(drop=True)),
    )


def _unescaped(separator: str) -> str:
    """A tab typed on the command line arrives as a backslash and a t."""
    return "\t" if separator == "\\t" else separator


def _checked_table(
    path: str, target: str, drop_columns: list[str], layout: CsvLayout
) -> pd.DataFrame:
    """The file's table with its columns checked and typed, before any row is dropped."""
    frame, unnamed = _read_table(Path(path), layout)
    _check_known_columns(frame, "dataset.drop_columns", drop_columns, path)
    frame = frame.drop(columns=list(drop_columns))
    frame = _without_empty_unnamed_columns(frame, [c for c in unnamed if c in frame], path)
    _check_target_column(frame, target, layout.separator, path)
    _check_known_columns(frame, "dataset.categorical_columns", layout.categorical_columns, path)
    if len(frame.columns) == 1:
        raise DataError(
            f"{path} has no columns besides the target {target!r} (after dataset.drop_columns): "
            "nothing to learn from. Add feature columns, or check dataset.drop_columns."
        )
    frame = _numbers_with_gaps(frame, target, layout, path)
    _check_target_has_values(frame[target], path)
    _check_no_infinities(frame, path)
    _check_fits_float32(frame, path)
    return frame


def _usable_rows(
    frame: pd.DataFrame, target: str, numeric_imputer: str, path: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows with a target (and, with numeric_imputer=drop, no gaps), and their counts."""
    summary: dict[str, int] = {"rows_read": len(frame)}
    labelled = frame[target].notna()
    summary["rows_without_target_dropped"] = int((~labelled).sum())
    frame = frame[labelled].reset_index(drop=True)
    summary["rows_repeated"] = _count_repeated_rows(frame, path)
    if numeric_imputer == "drop":
        complete = frame.notna().all(axis=1)
        summary["rows_with_missing_values_dropped"] = int((~complete).sum())
        frame = frame[complete].reset_index(drop=True)
    else:
        summary["missing_values_imputed"] = int(frame.drop(columns=[target]).isna().sum().sum())
    if len(frame) < 10:
        raise DataError(
            f"{path} has {len(frame)} usable rows; at least 10 are needed for train, "
            "validation and test splits."
        )
    summary["rows_used"] = len(frame)
    return frame, summary


def _count_repeated_rows(frame: pd.DataFrame, path: str) -> int:
    """Copies of a row may land in train and test alike and flatter the test score: kept,
    since they may be separate observations, but said."""
    repeated = int(frame.duplicated().sum())
    if repeated:
        log.warning(
            "%s: %d rows repeat an earlier row exactly; copies in both train and test flatter "
            "the test score. Remove them from the file if they are not separate observations.",
            path,
            repeated,
        )
    return repeated


def _read_table(path: Path, layout: CsvLayout) -> tuple[pd.DataFrame, list[str]]:
    """The table, and the names pandas gave the columns whose header cell is empty."""
    _check_is_a_file(path)
    header, frame = _parsed(path, layout)
    unnamed = [column for name, column in zip(header, frame.columns, strict=True) if not name]
    return frame, unnamed


def _check_is_a_file(path: Path) -> None:
    if path.is_dir():
        raise DataError(
            f"dataset.path={path} is a folder; set it to the CSV file (relative paths are taken "
            "from the directory you run in)."
        )
    if not path.exists():
        raise DataError(
            f"data file not found: {path}. Set dataset.path to an existing CSV file "
            "(relative paths are taken from the directory you run in)."
        )


def _parsed(path: Path, layout: CsvLayout) -> tuple[list[str | None], pd.DataFrame]:
    """The header as written, and the table as pandas reads it."""
    try:
        header = _read_header(path, layout)
        frame = pd.read_csv(
            path,
            sep=layout.separator,
            encoding=layout.encoding,
            na_values=layout.markers,
            thousands=layout.thousands,
            decimal=layout.decimal,
            dtype={column: str for column in layout.categorical_columns},
        )
    except UnicodeDecodeError as error:
        raise DataError(_decode_error_message(path, layout.encoding, error)) from error
    except LookupError as error:
        raise DataError(
            f"dataset.encoding={layout.encoding!r} is not an encoding Python knows; use e.g. "
            "utf-8, latin-1 or cp1252."
        ) from error
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as error:
        raise DataError(
            f"cannot read {path} as a CSV with separator {layout.separator!r}: {str(error).strip()}"
        ) from error
    return header, frame


def _read_header(path: Path, layout: CsvLayout) -> list[str | None]:
    """The header's names as written, None for an empty one. pandas renames a repeated
    column `y.1`: a copy of the target would become a feature that predicts it perfectly,
    so repeats are refused here. Read with the first row: a row longer than the header is
    a parse error here, where pandas would silently take its first field for a row label."""
    header = pd.read_csv(
        path, sep=layout.separator, encoding=layout.encoding, header=None, nrows=2, dtype=str
    )
    names = [None if pd.isna(name) else str(name) for name in header.iloc[0]] if len(header) else []
    written = [name for name in names if name is not None]
    repeated = sorted({name for name in written if written.count(name) > 1})
    if repeated:
        raise DataError(
            f"{path} has columns with the same name: {repeated}. Rename or remove the copies; "
            "a repeated target column would otherwise be read as a feature."
        )
    return names


def _decode_error_message(path: Path, encoding: str, error: UnicodeDecodeError) -> str:
    """What the file looks like when its first bytes say so; else the first byte that is
    not `encoding` (pandas reports the offset within its read buffer, not the file)."""
    with path.open("rb") as file:
        start = file.read(4096)
    for signature, (looks_like, fix) in FILE_SIGNATURES.items():
        if start.startswith(signature):
            return f"cannot read {path} as {encoding}: it starts like {looks_like}. {fix}."
    if b"\0" in start:
        return (
            f"cannot read {path} as {encoding}: it holds NUL bytes, as binary files do, not a "
            "CSV table. Set dataset.path to a CSV file."
        )
    try:
        path.read_bytes().decode(encoding)
    except UnicodeDecodeError as whole_file:
        error = whole_file
    return (
        f"cannot read {path} as {encoding}: byte {error.start} is not valid {encoding} "
        f"({error.reason}). Set dataset.encoding to the file's encoding, e.g. "
        "dataset.encoding=latin-1 or cp1252."
    )


def _without_empty_unnamed_columns(
    frame: pd.DataFrame, unnamed: list[str], path: str
) -> pd.DataFrame:
    """Columns without a name in the header: empty ones (a separator at the end of every
    line) dropped; others refused, since a nameless column is most often a row index saved
    with the table, a feature that tells rows apart and says nothing about new ones."""
    filled = [column for column in unnamed if frame[column].notna().any()]
    if filled:
        raise DataError(
            f"{path} has a column without a name in its header, read as {filled[0]!r} (often a "
            "row index saved with the table). Name it in the header, or drop it with "
            f"\"dataset.drop_columns=['{filled[0]}']\"."
        )
    return frame.drop(columns=unnamed)


def _check_known_columns(frame: pd.DataFrame, option: str, columns: list[str], path: str) -> None:
    unknown = [column for column in columns if column not in frame.columns]
    if unknown:
        raise DataError(
            f"{option} names {unknown}, which {path} does not have; "
            f"its columns are {list(frame.columns)}."
        )


def _check_target_column(frame: pd.DataFrame, target: str, separator: str, path: str) -> None:
    if target not in frame.columns:
        columns = [str(column) for column in frame.columns]
        raise DataError(
            f"target column {target!r} is not in {path}; its columns are {columns}. "
            + _header_hint(columns, separator)
        )


def _header_hint(columns: list[str], separator: str) -> str:
    """Why a target can be missing besides a typo: another separator, or no header line."""
    if len(columns) == 1:
        for other, override in SEPARATOR_OVERRIDES.items():
            if other != separator and other in columns[0]:
                return f"The file seems to be separated by {other!r}: set {override}."
    if pd.to_numeric(pd.Series(columns), errors="coerce").notna().all():
        return "Its first line holds numbers, not column names: add a header line."
    return "Set dataset.target to one of them."


def _numbers_with_gaps(
    frame: pd.DataFrame, target: str, layout: CsvLayout, path: str
) -> pd.DataFrame:
    """Text columns whose values are all numbers once missing-value markers (padded with
    spaces, say) are gaps, made numeric; the other text columns checked before they are
    one-hot encoded (`_check_text_column`)."""
    for column in frame.columns.drop([target, *layout.categorical_columns], errors="ignore"):
        if pd.api.types.is_numeric_dtype(frame[column]):
            continue
        text = frame[column].astype("string").str.strip()
        text = text.mask(text.isin(layout.markers))
        numbers = pd.to_numeric(_plain_numbers(text, layout), errors="coerce")
        not_numbers = text[text.notna() & numbers.isna()]
        if not_numbers.empty:
            frame[column] = numbers.astype(float)
        else:
            _check_text_column(column, text, not_numbers, path)
    _log_gaps(frame, path)
    return frame


def _plain_numbers(text: pd.Series, layout: CsvLayout) -> pd.Series:
    """Numbers written as dataset.thousands and dataset.decimal say, as Python writes them
    (pandas applies both only to columns it reads as numbers)."""
    if layout.thousands:
        text = text.str.replace(layout.thousands, "", regex=False)
    return text.str.replace(layout.decimal, ".", regex=False)


def _check_text_column(column: str, text: pd.Series, not_numbers: pd.Series, path: str) -> None:
    """One-hot encoding is wrong for numbers in a format pandas does not read (1,234 or
    12 kg), for numbers with a few typos, and for a column with a value per row."""
    _check_formatted_numbers(
        column, not_numbers, path, f"list it in dataset.categorical_columns=[{column}]"
    )
    if len(not_numbers) <= (1 - MOSTLY_NUMBERS) * text.notna().sum():
        raise DataError(_mostly_numbers_message(column, not_numbers, path))
    _check_not_an_identifier(column, text.dropna(), path)


def _check_formatted_numbers(
    column: str, not_numbers: pd.Series, path: str, as_categories: str
) -> None:
    """Values that are all numbers written with separators or a unit: read as text, each
    would become a category of its own. `as_categories`: how to say they are categories."""
    where = f"column {column!r} in {path}"
    example = f"e.g. {_examples(not_numbers)} (first at row {not_numbers.index[0] + 2} of the file)"
    for pattern, written_with, options in NUMBER_FORMATS:
        if not_numbers.str.fullmatch(pattern).all():
            raise DataError(
                f"{where} holds numbers written with {written_with}, {example}: read as "
                f"text, each value would be a category of its own. Set {options} to read them "
                "as numbers."
            )
    units = not_numbers.str.extract(NUMBER_WITH_UNIT).fillna("")
    unit = (units["before"] + units["after"]).str.strip()
    if not_numbers.str.fullmatch(NUMBER_WITH_UNIT).all() and unit.nunique() == 1 and unit.iloc[0]:
        raise DataError(
            f"{where} holds numbers with a unit or currency sign, {unit.iloc[0]!r}, {example}: "
            "read as text, each value would be a category of its own. Remove it from the "
            f"cells (and name the column after it), or {as_categories} if the values are "
            "categories."
        )


def _check_not_an_identifier(column: str, values: pd.Series, path: str) -> None:
    """A column with a value per row would become a feature per row: none of them says
    anything about a new row, and the dense one-hot matrix of a large file runs out of
    memory."""
    distinct = values.nunique()
    if distinct >= MANY_VALUES and distinct >= MOSTLY_UNIQUE * len(values):
        raise DataError(
            f"column {column!r} in {path} has {distinct} different values in {len(values)} "
            f"rows, e.g. {_examples(values)}: an identifier, a date or free text, which "
            "one-hot encoding would make into a feature per row. Drop it with "
            f"dataset.drop_columns=[{column}], or turn it into numbers in the file (a date "
            "into days since a start, say)."
        )


def _examples(values: pd.Series, count: int = 3) -> list[str]:
    """A few different values as a message shows them: long ones cut short."""
    distinct = list(dict.fromkeys(str(value) for value in values))[:count]
    return [
        value if len(value) <= EXAMPLE_LENGTH else value[:EXAMPLE_LENGTH] + "..."
        for value in distinct
    ]


def _mostly_numbers_message(column: str, not_numbers: pd.Series, path: str) -> str:
    examples = _examples(not_numbers)
    return (
        f"column {column!r} in {path} holds numbers except in {len(not_numbers)} rows, e.g. "
        f"{examples} (first at row {not_numbers.index[0] + 2} of the file). Fix those cells, "
        f"or list the markers in dataset.na_values (e.g. dataset.na_values=[{examples[0]}]) "
        "to read them as gaps."
    )


def _log_gaps(frame: pd.DataFrame, path: str) -> None:
    gaps = frame.isna().sum()
    gaps = gaps[gaps > 0]
    if len(gaps):
        counts = ", ".join(f"{column}={count}" for column, count in gaps.items())
        log.warning(
            "%s: missing values (empty or a marker like ?, NA, -) per column: %s", path, counts
        )


def _check_target_has_values(column: pd.Series, path: str) -> None:
    if len(column) and column.isna().all():
        raise DataError(
            f"target column {column.name!r} in {path} is empty in every row. Check "
            "dataset.target and dataset.separator, or fill the column."
        )


def _check_fits_float32(frame: pd.DataFrame, path: str) -> None:
    """Training runs in float32: a larger number becomes inf there (or overflows when
    standardized) and the run would diverge far from its cause."""
    numeric = frame.select_dtypes(include="number")
    too_large = numeric.abs() > FLOAT32_MAX
    if too_large.any().any():
        raise DataError(
            f"{path} has values beyond ±{FLOAT32_MAX:.3g}, too large for float32 training, in "
            f"columns {too_large.columns[too_large.any()].tolist()}. Rescale them (e.g. to "
            "thousands or a logarithm) or leave the cells empty to impute them."
        )


def _check_no_infinities(frame: pd.DataFrame, path: str) -> None:
    """inf passes as a number, then turns the loss or the standardized feature into NaN."""
    numeric = frame.select_dtypes(include="number")
    infinite = np.isinf(numeric.to_numpy(dtype=float))
    if infinite.any():
        columns = numeric.columns[infinite.any(axis=0)].tolist()
        first_row = int(np.flatnonzero(infinite.any(axis=1))[0]) + 2
        raise DataError(
            f"{path} has infinite values (inf) in columns {columns}, first at row {first_row} "
            "of the file. Replace them with finite numbers, or leave the cells empty to "
            "impute them."
        )


def _encode_target(
    column: pd.Series, task: Task, layout: CsvLayout, path: str
) -> tuple[np.ndarray, list[str] | None]:
    """Regression: floats. Classification: class indices, and the sorted class names."""
    if task == Task.regression:
        return _regression_target(column, layout, path), None
    class_names = sorted(column.astype(str).unique())
    if len(class_names) < 2:
        raise DataError(
            f"classification target {column.name!r} in {path} has a single class "
            f"({class_names}); at least two are needed."
        )
    index = {name: position for position, name in enumerate(class_names)}
    return column.astype(str).map(index).to_numpy(dtype=np.int64), class_names


def _regression_target(column: pd.Series, layout: CsvLayout, path: str) -> np.ndarray:
    """Numbers that vary, and whose squared errors fit in float32."""
    values = column
    if not pd.api.types.is_numeric_dtype(column):
        text = column.astype("string").str.strip()
        values = pd.to_numeric(_plain_numbers(text, layout), errors="coerce")
        bad = text[values.isna()]
        if len(bad):
            _check_formatted_numbers(column.name, bad, path, "set dataset.task=classification")
            raise DataError(
                f"regression target {column.name!r} in {path} has non-numeric values, "
                f"e.g. {_examples(bad)}. Clean the column or set dataset.task=classification."
            )
    if values.nunique() == 1:
        raise DataError(
            f"regression target {column.name!r} in {path} is {values.iloc[0]} in every row: "
            "there is nothing to learn. Check dataset.target."
        )
    largest = values.abs().max()
    if largest > FLOAT32_SQUARE_ROOT:
        raise DataError(
            f"regression target {column.name!r} in {path} reaches {largest:.3g}, whose squared "
            f"error overflows float32 training (above {FLOAT32_SQUARE_ROOT:.3g}). Rescale it "
            "(e.g. to millions, or a logarithm)."
        )
    return values.to_numpy(dtype=np.float32)


def _check_class_counts(targets: np.ndarray, class_names: list[str], path: str) -> None:
    """Stratified splitting puts each class in every split: it needs 3 rows of each."""
    counts = np.bincount(targets, minlength=len(class_names))
    rare = {name: int(count) for name, count in zip(class_names, counts, strict=True) if count < 3}
    if rare:
        raise DataError(
            f"classes with fewer than 3 rows in {path} cannot be split into train, validation "
            f"and test: {rare}. Merge or drop them."
        )


def _feature_transform(features: pd.DataFrame, numeric_imputer: str):
    """Numeric columns: impute and standardize. Other columns: one-hot, with gaps a category."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = features.select_dtypes(include="number").columns.tolist()
    categorical = [column for column in features.columns if column not in numeric]
    strategy = "median" if numeric_imputer == "drop" else numeric_imputer
    return ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy=strategy), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="<missing>"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
