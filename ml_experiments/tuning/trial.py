"""A job's side of its Optuna trial: it records its MLflow run id on the trial, reports
the optimized metric after every epoch, and stops when the study's pruner says so.

The sweeper (`optuna_sweeper.py`) tells the job its trial number through the
environment (`study.TRIAL_ENV`); the storage, study name and pruner come from the job's
own `hydra.sweeper` config, which is the sweep's. A study kept in memory is not
reachable from a job: no link, no pruning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ml_experiments.errors import TrialPruned
from ml_experiments.tuning import study as studies

log = logging.getLogger(__name__)
EpochMetrics = Callable[[dict[str, float], int], None]


@dataclass(frozen=True)
class TrialLink:
    """Which trial of which stored study a job runs for."""

    storage: str
    study_name: str
    number: int
    pruner: str


def trial_link(sweeper: Mapping, environ: Mapping[str, str] = os.environ) -> TrialLink | None:
    """The trial this job runs for, when an Optuna sweep with a stored study launched it."""
    number = environ.get(studies.TRIAL_ENV)
    if number is None or not sweeper.get("storage"):
        return None
    return TrialLink(
        str(sweeper["storage"]), str(sweeper["study_name"]), int(number), str(sweeper["pruner"])
    )


class TrialReporter:
    """Opens the job's trial; `after_epoch` wraps the loop's metrics logger."""

    def __init__(self, link: TrialLink, metric: str):
        import optuna

        study = optuna.load_study(
            study_name=link.study_name,
            storage=studies.storage_for(link.storage),
            pruner=studies.make_pruner(link.pruner),
        )
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == link.number)
        self.trial = optuna.trial.Trial(study, frozen._trial_id)
        self.metric = metric
        self.prunes = link.pruner != studies.Pruner.none
        self.pruner_name = type(study.pruner).__name__

    def record_run(self, run_id: str) -> None:
        self.trial.set_user_attr(studies.RUN_ID, run_id)

    def after_epoch(self, log_metrics: EpochMetrics) -> EpochMetrics:
        """`log_metrics`, then the epoch's value reported to the trial; raises TrialPruned
        when the pruner stops the trial."""

        def log_and_report(metrics: dict[str, float], epoch: int) -> None:
            log_metrics(metrics, epoch)
            if not self.prunes or self.metric not in metrics:
                return
            value = metrics[self.metric]
            self.trial.report(value, epoch)
            if self.trial.should_prune():
                self.trial.set_user_attr(studies.PRUNED_AT_EPOCH, epoch)
                raise TrialPruned(
                    f"pruned by Optuna's {self.pruner_name} at epoch {epoch} "
                    f"({self.metric}={value:.4g}): weaker than the study's other trials so far"
                )

        return log_and_report
