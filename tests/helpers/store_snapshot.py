"""What a test store holds, in a cheap signature per run, and what changed between two
looks: a test of one bad input checks that it touched its own experiment and nothing else.

The `store` fixture is shared by the tests of one worker, which run one at a time, so a
look before and one after a test's command see only that command's changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.helpers.running import Store


@dataclass(frozen=True)
class RunSignature:
    """What a command changes when it touches a run: its status, end, and the number of
    params, metrics and tags it holds."""

    experiment: str
    status: str
    end_time: int | None
    params: int
    metrics: int
    tags: int


@dataclass(frozen=True)
class Snapshot:
    experiments: dict[str, str]  # experiment name -> lifecycle stage (active, deleted)
    runs: dict[str, RunSignature]  # run id -> signature


def snapshot(store: Store) -> Snapshot:
    """Every experiment and run of the store, deleted ones included."""
    from mlflow.entities import ViewType
    from mlflow.store.tracking import SEARCH_MAX_RESULTS_THRESHOLD

    client = store.client()
    experiments = client.search_experiments(view_type=ViewType.ALL)
    names = {experiment.experiment_id: experiment.name for experiment in experiments}
    runs = client.search_runs(
        list(names), run_view_type=ViewType.ALL, max_results=SEARCH_MAX_RESULTS_THRESHOLD
    )
    return Snapshot(
        experiments={experiment.name: experiment.lifecycle_stage for experiment in experiments},
        runs={run.info.run_id: _signature(run, names[run.info.experiment_id]) for run in runs},
    )


def _signature(run, experiment: str) -> RunSignature:
    return RunSignature(
        experiment=experiment,
        status=run.info.status,
        end_time=run.info.end_time,
        params=len(run.data.params),
        metrics=len(run.data.metrics),
        tags=len(run.data.tags),
    )


@dataclass(frozen=True)
class Change:
    experiment: str
    subject: str  # "experiment" or "run <id>"
    before: object  # None when added
    after: object  # None when removed

    @property
    def kind(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"

    def __str__(self) -> str:
        return f"{self.experiment}: {self.subject} {self.kind}: {self.before} -> {self.after}"


def changes(before: Snapshot, after: Snapshot) -> list[Change]:
    """Every experiment and run that was added, removed or changed."""
    found = [
        Change(name, "experiment", before.experiments.get(name), after.experiments.get(name))
        for name in sorted(before.experiments.keys() | after.experiments.keys())
        if before.experiments.get(name) != after.experiments.get(name)
    ]
    for run_id in sorted(before.runs.keys() | after.runs.keys()):
        old, new = before.runs.get(run_id), after.runs.get(run_id)
        if old != new:
            found.append(Change((new or old).experiment, f"run {run_id}", old, new))
    return found


def assert_only_changed(before: Snapshot, after: Snapshot, *experiments: str) -> None:
    """Nothing changed outside these experiments (nothing at all when none are named)."""
    elsewhere = [
        change for change in changes(before, after) if change.experiment not in experiments
    ]
    listed = "\n".join(str(change) for change in elsewhere)
    assert not elsewhere, f"the store changed outside {list(experiments)}:\n{listed}"
