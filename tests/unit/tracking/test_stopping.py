"""A stop signal during a store write waits for the write to finish."""

from __future__ import annotations

import os
import signal

import pytest

from ml_experiments.errors import StopRequested
from ml_experiments.tracking.stopping import stop_signals_end_the_run, store_write


def test_a_stop_signal_waits_for_the_store_write_in_progress():
    steps = []
    with stop_signals_end_the_run():
        with pytest.raises(StopRequested):
            with store_write():
                os.kill(os.getpid(), signal.SIGTERM)  # handled before the next bytecode
                steps.append("write finished")
        with pytest.raises(StopRequested):
            with store_write():
                os.kill(os.getpid(), signal.SIGTERM)
                os.kill(os.getpid(), signal.SIGTERM)  # asked twice: stop now
                steps.append("not reached")
        with pytest.raises(StopRequested):
            os.kill(os.getpid(), signal.SIGTERM)  # outside a write: at once
            steps.append("not reached")
    assert steps == ["write finished"]
