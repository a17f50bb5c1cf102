"""The predict command takes any raw text on the command line, and refuses inputs it
cannot predict on (no words, a binary file, a plain path as the store) in one line."""

from __future__ import annotations

import logging

import pytest

from ml_experiments.errors import ConfigError, DataError, UserError


@pytest.mark.parametrize(
    "text",
    ["A slow start, but the last hour is wonderful.", "SHOCKING hoax EXPOSED!",
     "it's a \"great\" film \\ ${not_a_key} = yes, [1,2] \\'q\\", "ends with \\",
     "a \\${x}", "'quoted' from the start"],
)  # fmt: skip
def test_predict_takes_any_raw_text_on_the_command_line(text):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from ml_experiments.predict import quote_text_argument

    (argument,) = quote_text_argument([f"text={text}"])
    parsed = OverridesParser.create().parse_override(argument).value()
    assert OmegaConf.create({"text": parsed}).text == text


def predict_config(**options):
    from omegaconf import OmegaConf

    values = {"run_id": None, "checkpoint": "/nowhere/best.pt", "tracking_uri": "sqlite:///x.db",
              "inputs": None, "text": None} | options  # fmt: skip
    return OmegaConf.create(values)


@pytest.mark.parametrize("text", ["", "  \t "])
def test_a_text_without_words_is_refused_before_the_model_loads(text):
    from ml_experiments.predict import predict

    with pytest.raises(UserError, match=r"holds no words: give the text to classify"):
        predict(predict_config(text=text))


def test_a_plain_path_as_the_store_is_refused_before_a_run_is_looked_up():
    from ml_experiments.predict import predict

    config = predict_config(
        run_id="0" * 32, checkpoint=None, model_uri=None, tracking_uri="/tmp/s.db", text="x"
    )
    with pytest.raises(ConfigError, match=r"is a plain path.* use sqlite:////tmp/s.db "):
        predict(config)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "byte 0 is 0x89"),  # an image
        (b"caf\xe9 au lait\n", "byte 3 is 0xe9"),  # Latin-1, not UTF-8
        (b"valid UTF-8 \x00 but binary", "byte 12 is 0x00"),
    ],
)
def test_a_file_that_is_not_utf8_text_is_refused_with_the_first_bad_byte(
    tmp_path, content, problem
):
    from ml_experiments.predict import read_texts

    path = tmp_path / "inputs.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as refused:
        read_texts(path)
    assert str(refused.value) == (
        f"inputs={path} is not a UTF-8 text file ({problem}); this model reads text: give a "
        "file with one text per line, saved as UTF-8"
    )


@pytest.mark.parametrize("content", [b"", b"\n  \n\t\n"])
def test_a_file_without_text_is_refused(tmp_path, content):
    from ml_experiments.predict import read_texts

    path = tmp_path / "inputs.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match="holds no text .*: give one text per line"):
        read_texts(path)


def test_blank_lines_are_skipped_and_counted(tmp_path, caplog):
    from ml_experiments.predict import read_texts

    path = tmp_path / "inputs.txt"
    path.write_bytes("\ufeffSenate budget vote\n\n   \r\nSHOCKING secret\n".encode())
    with caplog.at_level(logging.INFO, logger="ml_experiments.predict"):
        assert read_texts(path) == ["Senate budget vote", "SHOCKING secret"]  # no BOM kept
    assert f"skipped 2 blank lines of inputs={path}" in caplog.text


def test_a_folder_or_a_missing_file_is_no_text_file(tmp_path):
    from ml_experiments.predict import read_texts

    with pytest.raises(DataError, match="is a folder: for text, give a file with one text"):
        read_texts(tmp_path)
    with pytest.raises(DataError, match="does not exist: for text, give a file"):
        read_texts(tmp_path / "missing.txt")


def test_a_folder_without_a_readable_image_is_refused(tmp_path):
    from ml_experiments.predict import _readable_images

    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "b.jpg").write_text("not an image")
    with pytest.raises(DataError, match=r"none of the 2 files could be read as an image \(inputs="):
        _readable_images(str(tmp_path), (1, 8, 8), "never")


def test_a_table_of_fields_reads_every_value_as_text_whatever_the_case_of_its_suffix(tmp_path):
    from ml_experiments.predict import read_table

    table = tmp_path / "claims.TSV"
    table.write_text("\ufeffstatement\tparty\tstate\nSays taxes rose.\trepublican\t\n")
    rows = read_table(table)
    assert rows.to_dict("records") == [
        {"statement": "Says taxes rose.", "party": "republican", "state": ""}
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [("statement,party\n", "has a header row and no rows"),
     ("", "does not read as a .csv table"),
     (b"\x89PNG\r\n\x1a\n\x00", "is not a UTF-8 text file")],
)  # fmt: skip
def test_a_table_that_cannot_be_classified_is_refused_in_one_line(tmp_path, content, message):
    from ml_experiments.predict import read_table

    table = tmp_path / "claims.csv"
    table.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message):
        read_table(table)
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)
