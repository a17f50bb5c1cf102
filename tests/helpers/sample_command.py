"""A command that tells what it was given and ends as asked, for the tests of the
pre-started Python: `python -m tests.helpers.sample_command <ending> [code]`."""

import os
import signal
import sys
import time


def main(ending: str, *rest: str) -> None:
    print(f"name={__name__} cwd={os.getcwd()} value={os.environ.get('SAMPLE_VALUE')}")
    print(f"args={sys.argv[1:]} torch_threads_env={os.environ.get('OMP_NUM_THREADS')}")
    print("to stderr", file=sys.stderr)
    if ending == "code":
        sys.exit(int(rest[0]))
    if ending == "message":
        sys.exit("a message for the user")
    if ending == "raise":
        raise ValueError("raised on purpose")
    if ending == "signal":
        os.kill(os.getpid(), signal.SIGTERM)
    if ending == "sleep":
        time.sleep(60)


if __name__ == "__main__":
    main(*sys.argv[1:])
