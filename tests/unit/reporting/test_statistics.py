"""Seeds aggregated: intervals, differences and verdicts on fixed numbers, checked against
values worked by hand and scipy's own t-tests."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from ml_experiments.reporting.leaderboard import configurations, seed_values, seeded_leaderboard
from ml_experiments.reporting.statistics import (
    difference,
    paired_difference,
    t_interval,
    verdict,
    welch_difference,
)


def test_a_t_interval_of_three_seeds():
    interval = t_interval([1.0, 2.0, 3.0])
    # mean 2, std 1, t(0.975, 2 dof) = 4.3027: half-width 4.3027 / sqrt(3) = 2.4841.
    assert (interval.mean, interval.std, interval.n) == (2.0, 1.0, 3)
    assert interval.low == pytest.approx(2 - 2.48414, abs=1e-5)
    assert interval.high == pytest.approx(2 + 2.48414, abs=1e-5)
    expected = stats.ttest_1samp([1.0, 2.0, 3.0], 0).confidence_interval(0.95)
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high))


def test_one_seed_has_no_interval_and_cannot_be_judged():
    interval = t_interval([4.2])
    assert interval.mean == 4.2 and interval.n == 1
    assert math.isnan(interval.low) and math.isnan(interval.std)
    change = difference({"0": 4.2}, {"0": 5.0})
    assert not change.judgeable
    assert verdict(change, "lower") == "cannot be judged with a single seed"


def test_paired_seeds_see_a_small_consistent_difference():
    change = paired_difference([1.0, 2.0, 3.0], [0.5, 1.5, 2.4])
    expected = stats.ttest_rel([1.0, 2.0, 3.0], [0.5, 1.5, 2.4]).confidence_interval(0.95)
    assert (change.low, change.high) == pytest.approx((expected.low, expected.high))
    assert change.paired and change.n == 3 and change.excludes_zero
    assert verdict(change, "lower") == "worse"  # a is higher, and lower is better
    assert verdict(change, "higher") == "an improvement"


def test_unpaired_groups_use_welchs_interval():
    a, b = [1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]
    change = welch_difference(a, b)
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert change.estimate == pytest.approx(-1.5)
    assert (change.low, change.high) == pytest.approx((expected.low, expected.high))
    assert not change.paired and change.n == 3
    assert verdict(change, "lower") == "within noise (n=3)"


def test_the_same_seeds_pair_and_different_seeds_do_not():
    same = difference({"0": 1.0, "1": 2.0, "2": 3.0}, {"0": 0.5, "1": 1.5, "2": 2.4})
    assert same.paired
    other = difference({"0": 1.0, "1": 2.0, "2": 3.0}, {"3": 0.5, "4": 1.5, "5": 2.4})
    assert not other.paired and not other.excludes_zero


def search_runs_frame() -> pd.DataFrame:
    """Six runs as mlflow.search_runs returns them: two learning rates, three seeds each,
    and a third rate whose one run failed."""
    rows = []
    values = {"0.1": [5.0, 5.5, 6.0], "0.01": [5.2, 5.6, 6.3]}
    for lr, scores in values.items():
        for seed, score in enumerate(scores):
            rows.append(run_row(f"{lr}-{seed}", lr, seed, "FINISHED", score))
    rows.append(run_row("bad", "1e6", 0, "FAILED", 1e15))
    frame = pd.DataFrame(rows)
    frame.loc[frame["status"] == "FAILED", "metrics.best/val/rmse"] = float("nan")
    return frame


def run_row(run_id: str, lr: str, seed: int, status: str, score: float) -> dict:
    return {
        "run_id": run_id,
        "status": status,
        "start_time": pd.Timestamp("2026-01-01", tz="UTC"),
        "end_time": pd.Timestamp("2026-01-01 00:01", tz="UTC"),
        "tags.mlflow.runName": f"lr={lr} seed={seed}",
        "params.optimizer.lr": lr,
        "params.seed": str(seed),
        "metrics.val/rmse": score,
        "metrics.best/val/rmse": score,
    }


def test_runs_that_differ_only_in_seed_are_one_configuration():
    table = configurations(search_runs_frame(), "val/rmse")
    assert table["configuration"].tolist() == [
        "optimizer.lr=0.1",
        "optimizer.lr=0.01",
        "optimizer.lr=1e6",
    ]
    best = table.iloc[0]
    assert (best["mean"], best["n"], best["failed"]) == (5.5, 3, 0)
    assert (best["ci_low"], best["ci_high"]) == pytest.approx(
        tuple(stats.ttest_1samp([5.0, 5.5, 6.0], 0).confidence_interval(0.95))
    )
    failed = table.iloc[2]
    assert failed["n"] == 0 and failed["failed"] == 1 and math.isnan(failed["mean"])


def test_a_configurations_seeds_pair_with_anothers():
    runs = search_runs_frame()
    table, board = configurations(runs, "val/rmse"), seeded_leaderboard(runs, "val/rmse")
    best, second = (seed_values(table.iloc[i], board, "val/rmse") for i in (0, 1))
    assert best == {"0": 5.0, "1": 5.5, "2": 6.0}
    change = difference(best, second)
    assert change.paired and change.estimate == pytest.approx(-0.2)
    # -0.2, -0.1, -0.3: lower on every seed, yet with 3 seeds the interval
    # (-0.2 +- 4.303 * 0.1 / sqrt(3) = [-0.448, 0.048]) still holds zero.
    assert (change.low, change.high) == pytest.approx((-0.44841, 0.04841), abs=1e-5)
    assert verdict(change, "lower") == "within noise (n=3)"
