"""A misspelled key or option on the real command line: one line with "did you mean",
exit code 1, no traceback and no advice to append the key with `+`."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            ["dataset=text_csv", "dataset.text_column=text"],
            "error: dataset has no key 'text_column'. Did you mean dataset.text_columns?",
        ),
        (["sed=1"], "error: the config has no key 'sed'. Did you mean seed?"),
        (["dataset=mnsit"], "error: dataset has no option 'mnsit'. Did you mean dataset=mnist?"),
    ],
)
def test_a_misspelling_gets_one_line_that_says_what_was_meant(train, overrides, line):
    result = train(*overrides, expect_success=False)
    assert result.returncode == 1
    assert result.output.strip() == line
    assert "+dataset.text_column" not in result.output and "Traceback" not in result.output
