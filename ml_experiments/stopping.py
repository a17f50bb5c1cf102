"""Stop a run cleanly on SIGTERM or Ctrl-C, so MLflow marks it KILLED.

An exception raised straight from a signal handler can land inside an MLflow
write and leave the store's SQLite transaction open; the run then cannot be
marked KILLED and stays RUNNING forever. So the first signal only asks to
stop: the training loop calls `raise_if_stop_requested` between batches, where
nothing is half-written. A second signal stops at once, for a process that is
stuck somewhere the loop never checks.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ml_experiments.errors import StopRequested

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_requested_by: int | None = None  # the signal that asked to stop, if any


def raise_if_stop_requested() -> None:
    if _requested_by is not None:
        raise StopRequested(_requested_by)


@contextmanager
def stop_signals_end_the_run() -> Iterator[None]:
    """While inside, SIGTERM and Ctrl-C stop the run at the next batch."""
    global _requested_by
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def request_stop(signum, _frame):
        global _requested_by
        if _requested_by is not None:
            raise StopRequested(signum)  # asked twice: stop now
        _requested_by = signum

    _requested_by = None
    previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _requested_by = None
