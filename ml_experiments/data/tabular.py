"""Tabular datasets: scikit-learn's bundled digits, Boston housing, and any CSV.

Every transform (imputation, standardization, one-hot encoding) is fitted on
the training split only, so validation and test numbers are honest.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data.base import DataBundle, DatasetMeta, TensorSplit
from ml_experiments.data.splits import split_indices
from ml_experiments.errors import DataError

log = logging.getLogger(__name__)

BOSTON_OPENML_ID = 531  # the original 506-row Boston housing table
# Cells read as gaps (pandas knows most; listed to match them padded with spaces too);
# dataset.na_values adds more.
MISSING_MARKERS = ["", "?", "-", "--", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL"]
FLOAT32_MAX = float(np.finfo(np.float32).max)
# A text column with at least this share of numbers is numeric data with typos, not text.
MOSTLY_NUMBERS = 0.8


def load_digits(name: str, val_fraction: float, test_fraction: float, *, seed: int) -> DataBundle:
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1]; installed with scikit-learn."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    features = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target, dtype=torch.long)
    train, val, test = split_indices(
        len(labels), val_fraction, test_fraction, seed, stratify=digits.target
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
    )


def load_boston(
    name: str,
    path: str,
    target: str,
    task: Task,
    drop_columns: list[str],
    numeric_imputer: str,
    separator: str,
    na_values: list[str],
    encoding: str,
    download: bool,
    val_fraction: float,
    test_fraction: float,
    *,
    seed: int,
) -> DataBundle:
    """Boston housing from `path`; fetched from OpenML into `path` when missing."""
    csv_path = Path(path)
    if not csv_path.exists():
        if not download:
            raise DataError(_missing_boston_message(csv_path, reason="dataset.download=false"))
        _download_boston(csv_path)
    return load_csv(
        path=path,
        target=target,
        task=task,
        drop_columns=drop_columns,
        numeric_imputer=numeric_imputer,
        separator=separator,
        na_values=na_values,
        encoding=encoding,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        name=name,
    )


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
    val_fraction: float,
    test_fraction: float,
    *,
    seed: int,
) -> DataBundle:
    """Any CSV with a target column: impute, one-hot encode and standardize the rest."""
    markers = [*MISSING_MARKERS, *na_values]
    frame = _read_table(Path(path), separator, encoding, markers)
    frame = _drop_requested_columns(frame, drop_columns, path)
    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} is not in {path}; its columns are {list(frame.columns)}. "
            "Set dataset.target to one of them."
        )
    frame = _numbers_with_gaps(frame, target, markers, path)
    _check_target_has_values(frame[target], path)
    _check_no_infinities(frame, path)
    _check_fits_float32(frame, path)
    summary: dict[str, int] = {"rows_read": len(frame)}
    labelled = frame[target].notna()
    summary["rows_without_target_dropped"] = int((~labelled).sum())
    frame = frame[labelled].reset_index(drop=True)
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

    features = frame.drop(columns=[target])
    targets, class_names = _encode_target(frame[target], task, path)
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
    summary["rows_used"] = len(frame)
    log.info("%s: %s", name, ", ".join(f"{key}={value}" for key, value in summary.items()))
    return DataBundle(
        split(train, train_x),
        split(val, preprocessor.transform(features.iloc[val])),
        split(test, preprocessor.transform(features.iloc[test])),
        meta,
        summary=summary,
    )


def _read_table(path: Path, separator: str, encoding: str, markers: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise DataError(
            f"data file not found: {path}. Set dataset.path to an existing CSV file "
            "(relative paths are taken from the directory you run in)."
        )
    try:
        _check_unique_header(path, separator, encoding)
        return pd.read_csv(path, sep=separator, encoding=encoding, na_values=markers)
    except UnicodeDecodeError as error:
        raise DataError(_decode_error_message(path, encoding, error)) from error
    except LookupError as error:
        raise DataError(
            f"dataset.encoding={encoding!r} is not an encoding Python knows; use e.g. utf-8, "
            "latin-1 or cp1252."
        ) from error
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as error:
        raise DataError(
            f"cannot read {path} as a CSV with separator {separator!r}: {error}"
        ) from error


def _check_unique_header(path: Path, separator: str, encoding: str) -> None:
    """pandas renames a repeated column `y.1`: a copy of the target would become a feature
    that predicts it perfectly."""
    header = pd.read_csv(path, sep=separator, encoding=encoding, header=None, nrows=1, dtype=str)
    names = [str(name) for name in header.iloc[0]] if len(header) else []
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"{path} has columns with the same name: {repeated}. Rename or remove the copies; "
            "a repeated target column would otherwise be read as a feature."
        )


def _decode_error_message(path: Path, encoding: str, error: UnicodeDecodeError) -> str:
    """pandas reports the offset within its read buffer; decoding the file names the byte."""
    try:
        path.read_bytes().decode(encoding)
    except UnicodeDecodeError as whole_file:
        error = whole_file
    return (
        f"cannot read {path} as {encoding}: byte {error.start} is not valid {encoding} "
        f"({error.reason}). Set dataset.encoding to the file's encoding, e.g. "
        "dataset.encoding=latin-1 or cp1252."
    )


def _numbers_with_gaps(
    frame: pd.DataFrame, target: str, markers: list[str], path: str
) -> pd.DataFrame:
    """Text columns whose values are all numbers once missing-value markers (padded with
    spaces, say) are gaps, made numeric; mostly-number columns refused, since one-hot
    encoding them would make hundreds of features out of a few typos."""
    for column in frame.columns.drop(target):
        if pd.api.types.is_numeric_dtype(frame[column]):
            continue
        text = frame[column].astype("string").str.strip()
        text = text.mask(text.isin(markers))
        numbers = pd.to_numeric(text, errors="coerce")
        not_numbers = text[text.notna() & numbers.isna()]
        if not_numbers.empty:
            frame[column] = numbers.astype(float)
        elif len(not_numbers) <= (1 - MOSTLY_NUMBERS) * text.notna().sum():
            raise DataError(_mostly_numbers_message(column, not_numbers, path))
    _log_gaps(frame, path)
    return frame


def _mostly_numbers_message(column: str, not_numbers: pd.Series, path: str) -> str:
    examples = list(dict.fromkeys(not_numbers.tolist()))[:3]
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


def _drop_requested_columns(frame: pd.DataFrame, columns: list[str], path: str) -> pd.DataFrame:
    unknown = [column for column in columns if column not in frame.columns]
    if unknown:
        raise DataError(
            f"dataset.drop_columns names {unknown}, which {path} does not have; "
            f"its columns are {list(frame.columns)}."
        )
    return frame.drop(columns=list(columns))


def _encode_target(column: pd.Series, task: Task, path: str) -> tuple[np.ndarray, list[str] | None]:
    """Regression: floats. Classification: class indices, and the sorted class names."""
    if task == Task.regression:
        values = pd.to_numeric(column, errors="coerce")
        bad = column[values.isna()]
        if len(bad):
            raise DataError(
                f"regression target {column.name!r} in {path} has non-numeric values, "
                f"e.g. {bad.iloc[:3].tolist()}. Clean the column or set "
                "dataset.task=classification."
            )
        return values.to_numpy(dtype=np.float32), None
    class_names = sorted(column.astype(str).unique())
    if len(class_names) < 2:
        raise DataError(
            f"classification target {column.name!r} in {path} has a single class "
            f"({class_names}); at least two are needed."
        )
    index = {name: position for position, name in enumerate(class_names)}
    return column.astype(str).map(index).to_numpy(dtype=np.int64), class_names


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
