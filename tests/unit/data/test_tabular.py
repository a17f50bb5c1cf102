"""Tabular loaders on small CSV files written by the tests, the bundled digits and the real
Boston file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_experiments.data.tabular import load_boston, load_csv, load_digits
from ml_experiments.errors import DataError

SPLITS = {"val_fraction": 0.2, "test_fraction": 0.2}


def write_houses(path, rows: int = 50) -> None:
    """A messy table: a gap in a numeric column, a text column with a gap, an unlabelled row."""
    generator = np.random.default_rng(0)
    lines = ["rooms,area,district,price"]
    for index in range(rows):
        rooms = "" if index == 3 else str(int(generator.integers(1, 6)))
        district = "" if index == 5 else ["north", "south", "east"][index % 3]
        price = "" if index == 7 else f"{100 + 20 * index:.1f}"
        lines.append(f"{rooms},{generator.uniform(40, 200):.1f},{district},{price}")
    path.write_text("\n".join(lines) + "\n")


# The CSV loaders' options that these tests leave at their defaults.
CSV_DEFAULTS = dict(
    task="regression",
    drop_columns=[],
    numeric_imputer="median",
    separator=",",
    na_values=[],
    encoding="utf-8",
    thousands=None,
    decimal=".",
    categorical_columns=[],
    seed=0,
    **SPLITS,
)


def load_houses(path, **overrides):
    options = dict(name="houses", path=str(path), target="price", **CSV_DEFAULTS)
    return load_csv(**(options | overrides))


def test_csv_imputes_encodes_and_counts(tmp_path):
    table = tmp_path / "houses.csv"
    write_houses(table)
    data = load_houses(table)
    assert data.summary["rows_without_target_dropped"] == 1
    assert data.summary["missing_values_imputed"] == 2
    assert data.summary["rows_used"] == 49
    assert len(data.train) + len(data.val) + len(data.test) == 49
    names = data.meta.feature_names
    assert names[:2] == ["rooms", "area"]
    assert {"district_north", "district_south", "district_east", "district_<missing>"} <= set(names)
    assert not torch.isnan(data.train.x).any()


def test_standardization_is_fitted_on_the_training_split_only(tmp_path):
    table = tmp_path / "houses.csv"
    write_houses(table, rows=200)
    data = load_houses(table)
    area = data.meta.feature_names.index("area")
    assert data.train.x[:, area].mean().item() == pytest.approx(0.0, abs=1e-5)
    assert data.train.x[:, area].std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)
    assert data.val.x[:, area].mean().item() != pytest.approx(0.0, abs=1e-5)


def test_drop_imputer_drops_incomplete_rows(tmp_path):
    table = tmp_path / "houses.csv"
    write_houses(table)
    data = load_houses(table, numeric_imputer="drop")
    assert data.summary["rows_with_missing_values_dropped"] == 2
    assert data.summary["rows_used"] == 47


def test_classification_target_becomes_sorted_class_indices(tmp_path):
    table = tmp_path / "houses.csv"
    write_houses(table, rows=60)
    data = load_houses(table, target="district", task="classification")
    assert data.meta.class_names == ["east", "north", "south"]
    assert data.train.y.dtype == torch.long
    assert set(data.train.y.tolist()) == {0, 1, 2}


def test_dropped_columns_must_exist(tmp_path):
    table = tmp_path / "houses.csv"
    write_houses(table)
    assert "area" not in load_houses(table, drop_columns=["area"]).meta.feature_names
    with pytest.raises(DataError, match=r"dataset.drop_columns names \['B'\]"):
        load_houses(table, drop_columns=["B"])


def test_missing_file_and_single_class_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        load_houses(tmp_path / "nope.csv")
    table = tmp_path / "one_class.csv"
    table.write_text("x,label\n" + "1,a\n" * 12)
    with pytest.raises(DataError, match="has a single class"):
        load_houses(table, target="label", task="classification")
    table.write_text("x,label\n" + "1,a\n2,b\n" * 6 + "3,c\n")
    with pytest.raises(DataError, match=r"fewer than 3 rows .* \{'c': 1\}"):
        load_houses(table, target="label", task="classification")
    table.write_text("x,y\n1,2\n")
    with pytest.raises(DataError, match="at least 10 are needed"):
        load_houses(table, target="y")


def test_boston_without_file_or_download_says_where_it_looked(tmp_path):
    path = tmp_path / "boston" / "boston.csv"
    with pytest.raises(DataError, match=f"not found at {path}"):
        load_boston(name="boston", path=str(path), target="MEDV", download=False, **CSV_DEFAULTS)


def test_real_boston_has_506_rows_and_13_features(shared_data):
    path = str(shared_data / "boston" / "boston.csv")
    options = CSV_DEFAULTS | {"drop_columns": ["B"]}
    data = load_boston(name="boston", path=path, target="MEDV", download=False, **options)
    assert data.summary["rows_used"] == 506
    assert data.meta.input_shape == (12,) and "B" not in data.meta.feature_names


def test_digits_is_bundled_and_scaled():
    data = load_digits(name="digits", seed=0, **SPLITS)
    assert data.meta.input_shape == (64,) and data.meta.num_classes == 10
    assert 0.0 <= data.train.x.min() and data.train.x.max() <= 1.0
    # Read from scikit-learn's file directly: the same pixels and digits as its loader.
    from sklearn.datasets import load_digits as sklearn_digits

    reference = sklearn_digits()
    rows = sum(len(split) for split in (data.train, data.val, data.test))
    assert rows == len(reference.target) == 1797
    all_x = torch.cat([data.train.x, data.val.x, data.test.x])
    assert torch.allclose(all_x.sum(0), torch.tensor(reference.data.sum(0) / 16.0).float())
    all_y = torch.cat([data.train.y, data.val.y, data.test.y])
    assert torch.equal(all_y.bincount(), torch.tensor(reference.target).bincount())


def write_table(path, header: str, row, rows: int = 30, encoding: str = "utf-8") -> None:
    """`rows` lines made by `row(index)` under `header`."""
    path.write_bytes((header + "\n" + "".join(row(i) + "\n" for i in range(rows))).encode(encoding))


def test_a_repeated_column_name_is_refused(tmp_path):
    table = tmp_path / "twice.csv"
    write_table(table, "x,y,y", lambda i: f"{i},{2 * i},{2 * i}")
    with pytest.raises(DataError, match=r"columns with the same name: \['y'\]"):
        load_houses(table, target="y")


def test_missing_value_markers_in_a_numeric_column_are_gaps(tmp_path, caplog):
    """A few `?`, `-`, ` NA ` cells leave the column numeric: one feature, three gaps."""
    table = tmp_path / "marked.csv"
    marks = {3: "?", 4: "-", 5: " NA ", 6: "unknown"}
    write_table(table, "rooms,area,price", lambda i: f"{marks.get(i, i % 5)},{i},{i * 3}")
    with caplog.at_level("WARNING"):
        data = load_houses(table, na_values=["unknown"])
    assert data.meta.feature_names == ["rooms", "area"]
    assert data.summary["missing_values_imputed"] == 4
    assert "rooms=4" in caplog.text


def test_a_column_of_numbers_with_a_few_words_is_refused_not_one_hot_encoded(tmp_path):
    table = tmp_path / "typo.csv"
    write_table(table, "rooms,price", lambda i: f"{'three' if i == 4 else i % 5},{i}")
    with pytest.raises(DataError, match=r"column 'rooms' .* numbers except in 1 rows, e.g. "
                       r"\['three'\] \(first at row 6"):  # fmt: skip
        load_houses(table)


@pytest.mark.parametrize("column", ["area", "price"])
def test_infinity_in_a_feature_or_the_target_is_named(tmp_path, column):
    table = tmp_path / "inf.csv"
    write_table(table, "area,price", lambda i: f"{i},{i}" if i != 2 else "inf,2" if
                column == "area" else "2,-inf")  # fmt: skip
    with pytest.raises(DataError, match=rf"infinite values \(inf\) in columns \['{column}'\], "
                       "first at row 4"):  # fmt: skip
        load_houses(table)


def test_a_decode_error_names_the_file_the_byte_and_the_option(tmp_path):
    table = tmp_path / "latin.csv"
    write_table(table, "city,price", lambda i: f"{'Zürich' if i == 20 else 'Bern'},{i}",
                encoding="latin-1")  # fmt: skip
    offset = table.read_bytes().index("ü".encode("latin-1"))
    with pytest.raises(DataError, match=rf"{table} as utf-8: byte {offset} .* dataset.encoding"):
        load_houses(table)
    assert "Zürich" in str(load_houses(table, encoding="latin-1").meta.feature_names)
    with pytest.raises(DataError, match="dataset.encoding='klingon' is not an encoding"):
        load_houses(table, encoding="klingon")


def test_an_empty_target_column_is_named(tmp_path):
    table = tmp_path / "empty.csv"
    write_table(table, "x,price", lambda i: f"{i},")
    with pytest.raises(DataError, match="target column 'price' .* is empty in every row"):
        load_houses(table)


def test_numbers_too_large_for_float32_are_named(tmp_path):
    table = tmp_path / "huge.csv"
    write_table(table, "area,price", lambda i: f"{'-1e300' if i == 3 else i},{i}")
    with pytest.raises(DataError, match=r"beyond ±3.4e\+38, too large .* columns \['area'\]"):
        load_houses(table)


# file name -> (its bytes, a line of the refusal); each read with the default options
REFUSED = {
    "thousands.csv": (
        "x,y\n" + "".join(f'"{1000 + 37 * i:,}",{i}\n' for i in range(30)),
        r"column 'x' .* numbers written with thousands separators, e.g. \['1,000', '1,037', "
        r"'1,074'\] \(first at row 2 of the file\).* Set \"dataset.thousands=','\"",
    ),
    "decimal_commas.csv": (
        "x,y\n" + "".join(f'"{i},5",{i}\n' for i in range(30)),
        r"numbers written with decimal commas, e.g. \['0,5'.* \"dataset.decimal=','\"",
    ),
    "kilograms.csv": (
        "x,y\n" + "".join(f"{i + 10} kg,{i}\n" for i in range(30)),
        r"column 'x' .* a unit or currency sign, 'kg', e.g. \['10 kg'.*Remove it from the "
        r"cells .* or list it in dataset.categorical_columns=\[x\]",
    ),
    "dollars_as_target.csv": (
        "x,y\n" + "".join(f"{i},${i + 5}\n" for i in range(30)),
        r"column 'y' .* currency sign, '\$'.* or set dataset.task=classification",
    ),
    "dates.csv": (
        "day,x,y\n" + "".join(f"2024-01-{i + 1:02d},{i},{i}\n" for i in range(30)),
        r"column 'day' .* 30 different values in 30 rows.* dataset.drop_columns=\[day\]",
    ),
    "long_typo.csv": (
        "x,y\n" + "".join(f"{'a' * 5000 if i == 3 else i},{i}\n" for i in range(30)),
        r"e.g. \['a{40}\.\.\.'\]",
    ),
    "image.png": (b"\x89PNG\r\n\x1a\n\x00\x00", "as utf-8: it starts like a PNG image"),
    "random.bin": (b"\xc3\x00\xff" * 50, "it holds NUL bytes, as binary files do"),
    "utf16.csv": ("x,y\n1,2\n".encode("utf-16"), "starts like UTF-16 text. Set dataset.enc"),
    "tabs.csv": (
        "x\ty\n1\t2\n",
        r"its columns are \['x\\ty'\]. The file seems to be separated by '\\t': set "
        r"\"dataset.separator='\\t'\"",
    ),
    "no_header.csv": ("1,3\n2,5\n", "Its first line holds numbers, not column names"),
    "index.csv": (
        ",x,y\n" + "".join(f"{i},{i % 4},{i}\n" for i in range(30)),
        r"a column without a name in its header, read as 'Unnamed: 0'",
    ),
    "longer_rows.csv": ("x,y\n" + "1,2,3\n" * 30, "Expected 2 fields in line 2, saw 3"),
    "constant.csv": ("x,y\n" + "".join(f"{i},5\n" for i in range(30)), "is 5 in every row"),
    "huge_target.csv": (
        "x,y\n" + "".join(f"{i},{i * 1e20}\n" for i in range(30)),
        r"reaches 2.9e\+21, whose squared error overflows float32",
    ),
    "target_only.csv": ("y\n" + "".join(f"{i}\n" for i in range(30)), "no columns besides"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_table_that_would_train_wrongly_is_refused_with_the_fix(tmp_path, case):
    content, message = REFUSED[case]
    table = tmp_path / case
    table.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message):
        load_houses(table, target="y")


def test_a_folder_is_named_as_one(tmp_path):
    with pytest.raises(DataError, match=f"dataset.path={tmp_path} is a folder"):
        load_houses(tmp_path)


def test_the_number_options_read_what_they_name(tmp_path):
    table = tmp_path / "european.csv"
    write_table(table, "area;price", lambda i: f"{i + 1}.{i:03d},5;{i},25")
    with pytest.raises(
        DataError, match=r"thousands dots and decimal commas.* dataset.thousands=\."
    ):
        load_houses(table, separator=";")
    data = load_houses(table, separator=";", thousands=".", decimal=",")
    assert data.meta.feature_names == ["area"]
    assert data.summary["rows_used"] == 30


def test_a_tab_typed_on_the_command_line_separates(tmp_path):
    table = tmp_path / "tabs.tsv"
    write_table(table, "area\tprice", lambda i: f"{i}\t{2 * i}")
    assert load_houses(table, separator="\\t").meta.feature_names == ["area"]


def test_categorical_columns_are_one_hot_whatever_they_hold(tmp_path):
    table = tmp_path / "codes.csv"
    write_table(table, "size,zip,price", lambda i: f"{i % 3 + 1} kg,{1000 + i % 2},{i}")
    data = load_houses(table, categorical_columns=["size", "zip"])
    assert data.meta.feature_names == [
        "size_1 kg",
        "size_2 kg",
        "size_3 kg",
        "zip_1000",
        "zip_1001",
    ]
    with pytest.raises(DataError, match=r"dataset.categorical_columns names \['colour'\]"):
        load_houses(table, categorical_columns=["colour"])


def test_an_empty_column_without_a_name_is_dropped(tmp_path):
    table = tmp_path / "trailing.csv"
    write_table(table, "area,price,", lambda i: f"{i},{i},")
    assert load_houses(table).meta.feature_names == ["area"]


def test_repeated_rows_are_counted_and_said(tmp_path, caplog):
    table = tmp_path / "twice.csv"
    write_table(table, "area,price", lambda i: f"{i // 2},{i // 2}")
    with caplog.at_level("WARNING"):
        data = load_houses(table)
    assert data.summary["rows_repeated"] == 15
    assert "15 rows repeat an earlier row exactly" in caplog.text
