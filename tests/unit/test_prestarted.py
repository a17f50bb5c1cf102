"""The pre-started Python (tests/helpers/prestarted.py) runs a command as a fresh
interpreter would: the same output, exit status, arguments, environment and folder."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.helpers.running import PROJECT_ROOT, prestarted_python, run_python_module

MODULE = "tests.helpers.sample_command"
ENDINGS = {
    "normal": (["normal", "a=1", "b c"], 0),
    "code": (["code", "7"], 7),
    "message": (["message"], 1),
    "raise": (["raise"], 1),
    "signal": (["signal"], -15),
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_forked_command_ends_as_a_fresh_interpreter_does(ending, monkeypatch):
    args, expected_code = ENDINGS[ending]
    env = dict(os.environ, SAMPLE_VALUE="from the request")
    forked = run_python_module(MODULE, args, env, timeout=60)
    monkeypatch.setenv("ML_EXPERIMENTS_TEST_FRESH_INTERPRETERS", "1")
    fresh = run_python_module(MODULE, args, env, timeout=60)

    assert forked.returncode == fresh.returncode == expected_code
    assert unindented_lines(forked.output) == unindented_lines(fresh.output)
    assert f"name=__main__ cwd={PROJECT_ROOT} value=from the request" in forked.output
    assert f"args={args[:]}" in forked.output


def unindented_lines(output: str) -> list[str]:
    """The output's lines but a traceback's frames, which differ by runpy's own."""
    return sorted(line for line in output.splitlines() if not line.startswith(" "))


def test_the_output_says_why_a_command_failed():
    message = run_python_module(MODULE, ["message"], dict(os.environ), timeout=60)
    assert "a message for the user" in message.output
    raised = run_python_module(MODULE, ["raise"], dict(os.environ), timeout=60)
    assert "ValueError: raised on purpose" in raised.output and "Traceback" in raised.output


def test_a_command_past_its_timeout_is_killed():
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        prestarted_python().run(MODULE, ["sleep"], dict(os.environ), timeout=1)
    assert time.monotonic() - started < 10


def test_test_processes_use_one_torch_thread():
    # Set by tests/__init__.py for every process the session starts.
    result = run_python_module(MODULE, ["normal"], dict(os.environ), timeout=60)
    assert "torch_threads_env=1" in result.output
