"""The predict command takes any raw text on the command line."""

from __future__ import annotations

import pytest


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
