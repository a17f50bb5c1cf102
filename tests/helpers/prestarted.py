"""A Python that has imported the heavy libraries once and forks a child per command.

Each e2e test runs `python -m ml_experiments.<command>`; a fresh interpreter spends most of
its start-up importing torch, MLflow, scikit-learn and Hydra (about 10 s of CPU on 2
cores), which made that the largest cost of the suite. This server imports those once.
For each command it forks: the child takes the command's environment, working folder and
arguments, sends stdout and stderr to a file, and runs the module as `__main__` with
`runpy`, as `python -m` does. The project's own modules are imported in the child, never
here, so each command imports them afresh.

Only libraries that read no environment at import time are imported here (not
transformers or huggingface_hub, which do), and the server runs no Python thread but its
own: a fork copies only the thread that calls it, so a thread running here would be
missing, or hold a lock forever, in every child. The server checks that before it says it
is ready. The native pools that these imports start (OpenBLAS, jemalloc) stop and restart
themselves around a fork, as they do for PyTorch's forked data-loading workers.

Protocol, one JSON object a line: a request on stdin ({"module", "args", "env", "cwd",
"output", "status"}) is answered on stdout with {"pid"}; when that child ends, its exit
status (as subprocess reports it: the code, or minus the signal) is written to the
request's "status" file. End of stdin stops the server and kills any child still running.
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
from pathlib import Path

# The imports a command spends its start-up on, in the order the entry points make them.
PRELOADED = (
    "torch",
    "torch._dynamo",  # imported by every optimizer step
    "torchvision",
    "numpy",
    "pandas",
    "scipy.stats",
    "sklearn.base",
    "sklearn.model_selection",
    "sklearn.metrics",
    "sklearn.linear_model",
    "sklearn.feature_extraction.text",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.preprocessing",
    "sklearn.impute",
    "matplotlib",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.models",
    "hydra",
    "hydra.main",
    "omegaconf",
    "optuna",
    "jinja2",
)


def main() -> None:
    for name in PRELOADED:
        __import__(name)
    threads = [thread.name for thread in threading.enumerate()]
    if len(threads) != 1:
        error = f"threads {threads} run after the imports; a fork would lose them"
        print(json.dumps({"error": error}))
        sys.exit(3)
    print(json.dumps({"ready": True}), flush=True)
    serve()


def serve() -> None:
    statuses: dict[int, str] = {}  # running child -> its status file
    try:
        while True:
            readable, _, _ = select.select([sys.stdin], [], [], 0.05)
            if readable:
                line = sys.stdin.readline()
                if not line:
                    return
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    run_child(request)  # never returns
                statuses[pid] = request["status"]
                print(json.dumps({"pid": pid}), flush=True)
            reap(statuses)
    finally:
        for pid in statuses:
            os.kill(pid, 9)


def reap(statuses: dict[int, str]) -> None:
    while statuses:
        pid, wait_status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        path = Path(statuses.pop(pid))
        written = path.with_suffix(".writing")
        written.write_text(str(os.waitstatus_to_exitcode(wait_status)))
        written.replace(path)  # the client sees the whole status or none


def run_child(request: dict) -> None:
    """Become `python -m <module> <args>` in the request's environment; exit with its code."""
    import atexit
    import runpy
    import signal
    import traceback

    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        sys.argv = [request["module"], *request["args"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = exit_code(stop.code)
    except BaseException:
        traceback.print_exc()
    finally:
        # What the interpreter does on its way out: wait for non-daemon threads, run the
        # exit handlers, flush.
        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    main()
