"""The project's tests.

Every process of a test session (the pytest workers and the commands they start) uses
one torch thread: two workers share the 2 cores that CI has, and two processes of two
threads each on 2 cores spend more time waiting for each other's threads than working.
Set OMP_NUM_THREADS yourself to run them otherwise.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
