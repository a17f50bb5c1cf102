"""Stop a run cleanly on SIGTERM or Ctrl-C, so MLflow marks it KILLED.

The signal raises `StopRequested` at once, except during a write to the MLflow
store: an exception landing inside one can leave the store's SQLite transaction
open, and the run could then never be marked KILLED. Writes therefore run inside
`store_write`, which holds the signal back until the write is done. A second
signal during a write stops at once, for a write that hangs.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ml_experiments.errors import StopRequested

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_held_back: int | None = None  # a signal that arrived during a store write
_writing = 0  # store writes in progress (they can nest)


@contextmanager
def stop_signals_end_the_run() -> Iterator[None]:
    """While inside, SIGTERM and Ctrl-C raise StopRequested (held back during writes)."""
    global _held_back
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def request_stop(signum, _frame):
        global _held_back
        if _writing and _held_back is None:
            _held_back = signum
            return
        raise StopRequested(signum)

    _held_back = None
    previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _held_back = None


@contextmanager
def store_write() -> Iterator[None]:
    """Hold a stop signal back until the write inside has finished, then act on it."""
    global _writing, _held_back
    _writing += 1
    try:
        yield
    finally:
        _writing -= 1
    if _writing == 0 and _held_back is not None:
        signum, _held_back = _held_back, None
        raise StopRequested(signum)


def uninterrupted(method):
    """Decorate a method that writes to the store: see `store_write`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with store_write():
            return method(*args, **kwargs)

    return wrapper
