"""The sweeper passes Hydra's own test suites for sweepers, the ones Hydra's plugins run:
batches that keep their jobs apart (a grid of 6 in 3 batches of 2), and the integration
suite (task names, working folders, paths in a multirun)."""

from __future__ import annotations

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.launcher_common_tests import BatchedSweeperTestSuite, IntegrationTestSuite

# The suites' apps have no outputs folder or experiment name, and their jobs return no
# number: a study in memory, named here, and failed trials allowed.
STANDALONE = [
    "hydra/sweeper=optuna",
    "hydra.sweeper.storage=null",
    "hydra.sweeper.study_name=hydra_suite",
    "hydra.sweeper.max_failure_rate=1.0",
]


def test_hydra_finds_the_sweeper():
    names = [plugin.__name__ for plugin in Plugins.instance().discover(Sweeper)]
    assert "OptunaSweeper" in names


@pytest.mark.parametrize(
    "launcher_name, overrides",
    # chdir: the suite looks for each job's log in its working folder. Hydra's default
    # depends on the version_base an earlier test in this process set.
    [
        (
            "basic",
            [
                *STANDALONE,
                "hydra/sweeper/sampler=grid",
                "hydra.sweeper.n_jobs=2",
                "hydra.job.chdir=true",
            ],
        )
    ],  # fmt: skip
)
class TestOptunaSweeperBatches(BatchedSweeperTestSuite):
    pass


@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [
        (
            {},
            [
                "-m",
                *STANDALONE,
                "hydra.sweeper.n_trials=1",
                "hydra/launcher=basic",
                "hydra/hydra_logging=disabled",
                "hydra/job_logging=disabled",
            ],
        )
    ],
)
class TestOptunaSweeperIntegration(IntegrationTestSuite):
    pass
