"""Errors a user can fix. Their messages name the problem and the fix.

`train.main` prints them without a traceback and exits non-zero; the MLflow
run they happen in ends FAILED with the message and traceback as artifacts.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class UserError(Exception):
    """A problem with the user's config, data or files, not a bug."""


class ConfigError(UserError):
    """Options that do not fit together, or a name that does not exist."""


class DataError(UserError):
    """Data that is missing, unreadable or not in the expected shape."""


class CheckpointError(UserError):
    """A checkpoint that cannot be found, read or loaded into this model."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


class TrialPruned(Exception):
    """An Optuna pruner stopped the trial this run belongs to: the run ends KILLED with
    the `pruned` tag, and the sweep goes on."""


class StopRequested(BaseException):
    """SIGTERM or Ctrl-C arrived: stop and mark the run KILLED (see `stopping`).

    A BaseException, like KeyboardInterrupt, so that `except Exception` blocks
    on the way up do not swallow it.
    """

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


@contextmanager
def exit_on_user_error(log: logging.Logger) -> Iterator[None]:
    """For command-line tools: print a UserError's message, no traceback, and exit 1."""
    try:
        yield
    except UserError as error:
        log.error("%s", error)
        sys.exit(1)
