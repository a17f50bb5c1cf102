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
    val_fraction: float,
    test_fraction: float,
    *,
    seed: int,
) -> DataBundle:
    """Any CSV with a target column: impute, one-hot encode and standardize the rest."""
    frame = _read_table(Path(path), separator)
    frame = _drop_requested_columns(frame, drop_columns, path)
    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} is not in {path}; its columns are {list(frame.columns)}. "
            "Set dataset.target to one of them."
        )
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


def _read_table(path: Path, separator: str) -> pd.DataFrame:
    if not path.exists():
        raise DataError(
            f"data file not found: {path}. Set dataset.path to an existing CSV file "
            "(relative paths are taken from the directory you run in)."
        )
    try:
        return pd.read_csv(path, sep=separator)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as error:
        raise DataError(
            f"cannot read {path} as a CSV with separator {separator!r}: {error}"
        ) from error


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
