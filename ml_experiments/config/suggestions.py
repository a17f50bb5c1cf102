"""A misspelled key or option on the command line: "did you mean ...?" in one line.

Hydra answers `dataset.text_column=...` (the key is `text_columns`) with "To append to
your config use +dataset.text_column=...", advice that the schema then rejects, and
`dataset=mnsit` with every option of the group but no suggestion. `report_misspellings`
makes the commands end such an error with one line that names the closest key or
option instead; every other error keeps Hydra's own report (`+key` and `++key` add keys
on purpose and never fail as unknown). It looks only at an error Hydra has already
raised, so a run that composes costs nothing more.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable
from dataclasses import is_dataclass
from typing import Any

from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

# Hydra's own config keeps Hydra's messages; `schemas` is a group of types, not options.
HYDRA_KEYS = "hydra."
NOT_SUGGESTED = {"hydra", "schemas"}


def report_misspellings() -> None:
    """Make the command's `main()` end a misspelled key or group option with
    "error: ... Did you mean ...?" and exit code 1, as Hydra exits on its other errors.

    Hydra 1.3 catches and prints every composition error in `run_and_report` and has no
    hook before it, so the wrapper sits around the function Hydra passes in.
    """
    from hydra._internal import utils

    hydra_run_and_report = utils.run_and_report

    def run_and_report(run: Callable[[], Any]) -> Any:
        return hydra_run_and_report(lambda: _exit_on_misspelling(run))

    utils.run_and_report = run_and_report


def _exit_on_misspelling(run: Callable[[], Any]) -> Any:
    try:
        return run()
    except ConfigCompositionException as error:
        message = misspelling_message(error, _top_level_groups())
        if message is None:
            raise
        sys.exit(f"error: {message}")


def _top_level_groups() -> list[str]:
    """The config groups a top-level `group=option` may name (experiment, debug, ...)."""
    from hydra.core.global_hydra import GlobalHydra

    if not GlobalHydra.instance().is_initialized():
        return []
    return GlobalHydra.instance().config_loader().list_groups("")


def misspelling_message(error: ConfigCompositionException, groups: Iterable[str]) -> str | None:
    """What to tell about a key or group option that does not exist; None for any other
    error. `groups` are the top-level config groups, which a top-level key may mean."""
    if isinstance(error, MissingConfigException):
        return _option_message(error)
    # Hydra raises from the key error when an override names a key the config lacks.
    if isinstance(error.__cause__, ConfigKeyError | ConfigAttributeError):
        return _key_message(error.__cause__, groups)
    return None


def _option_message(error: MissingConfigException) -> str | None:
    if not error.options or "/" not in (error.missing_cfg_file or ""):
        return None  # the primary config itself is missing: not a misspelled option
    group, option = error.missing_cfg_file.rsplit("/", 1)
    return _unknown(
        f"{group} has no option '{option}'",
        option,
        error.options,
        spelled=lambda name: f"{group}={name}",
        listed_as="its options",
    )


def _key_message(error: ConfigKeyError | ConfigAttributeError, groups: Iterable[str]) -> str | None:
    if error.full_key is None or error.full_key.startswith(HYDRA_KEYS):
        return None
    if error.parent_node is None or error.key is None:
        return None
    key = str(error.key)
    keys = {str(name) for name in error.parent_node.keys()} - NOT_SUGGESTED
    parent = error.full_key.rpartition(".")[0]
    if parent:
        return _unknown(
            f"{parent} has no key '{key}'",
            key,
            sorted(keys),
            spelled=lambda name: f"{parent}.{name}",
            listed_as=f"the keys of {parent}{_schema_name(error)}",
        )
    # `experimnt=...` misspells a group, not a key.
    keys |= set(groups) - NOT_SUGGESTED
    return _unknown(
        f"the config has no key '{key}'", key, sorted(keys), spelled=str, listed_as="its keys"
    )


def _schema_name(error: ConfigKeyError | ConfigAttributeError) -> str:
    """` (DigitsDatasetConfig)`: the keys of a group differ between its options' schemas."""
    return f" ({error.object_type.__name__})" if is_dataclass(error.object_type) else ""


def _unknown(
    problem: str,
    wrong: str,
    candidates: list[str],
    spelled: Callable[[str], str],
    listed_as: str,
) -> str:
    """`problem`, then the closest candidate, or all of them when none is close."""
    match = closest_match(wrong, candidates)
    if match is None:
        return f"{problem}; {listed_as} are {', '.join(candidates)}"
    return f"{problem}. Did you mean {spelled(match)}?"


def closest_match(wrong: str, candidates: list[str]) -> str | None:
    """The candidate `wrong` most likely misspells, or None when none is close. One only:
    a second guess (text_columns or label_column) reads as noise.

    A name may also stand for the initials of the other's words, either way round:
    learning_rate for lr, wd for weight_decay.
    """
    for candidate in candidates:
        if wrong == _initials(candidate) or candidate == _initials(wrong):
            return candidate
    spelled = difflib.get_close_matches(wrong, candidates, n=1)
    return spelled[0] if spelled else None


def _initials(name: str) -> str | None:
    words = [word for word in name.split("_") if word]
    return "".join(word[0] for word in words) if len(words) > 1 else None
