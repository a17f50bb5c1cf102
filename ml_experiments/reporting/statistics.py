"""Seeds aggregated: a mean with its Student-t 95% confidence interval, the difference
between two configurations (paired over shared seeds, else Welch's unpaired), and the
verdict a report gives it.

Student t rather than a bootstrap: sweeps run 3 to 5 seeds, too few for a bootstrap's
resamples to cover the tails, and t is exact when the seed-to-seed spread is normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
METHOD = "Student-t 95%"


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its confidence interval; low and high are NaN for n < 2."""

    mean: float
    std: float
    n: int
    low: float
    high: float


@dataclass(frozen=True)
class Difference:
    """`a - b` between two configurations, with its interval; `paired` when over the same
    seeds, and n the seeds (paired) or the smaller group (unpaired)."""

    estimate: float
    low: float
    high: float
    n: int
    paired: bool

    @property
    def judgeable(self) -> bool:
        return self.n >= 2 and not math.isnan(self.low)

    @property
    def excludes_zero(self) -> bool:
        return self.judgeable and (self.low > 0 or self.high < 0)

    @property
    def same_for_every_seed(self) -> bool:
        """No spread at all: the runs did not depend on the seed (a scikit-learn fit on a
        fixed split), so the seeds say nothing of the noise."""
        return self.judgeable and self.low == self.high


def t_interval(values) -> Interval:
    """The mean of `values` with its Student-t interval (NaN bounds and std for one value)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        raise ValueError("an interval needs at least one value")
    mean = float(values.mean())
    if len(values) < 2:
        return Interval(mean, math.nan, 1, math.nan, math.nan)
    std = float(values.std(ddof=1))
    half = _t_quantile(len(values) - 1) * std / math.sqrt(len(values))
    return Interval(mean, std, len(values), mean - half, mean + half)


def paired_difference(a, b) -> Difference:
    """`a - b` seed by seed (a[i] and b[i] share a seed): the t interval of the differences."""
    interval = t_interval(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
    return Difference(interval.mean, interval.low, interval.high, interval.n, paired=True)


def welch_difference(a, b) -> Difference:
    """`mean(a) - mean(b)` for independent groups, with Welch's interval (unequal variances)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    estimate = float(a.mean() - b.mean())
    n = min(len(a), len(b))
    if n < 2:
        return Difference(estimate, math.nan, math.nan, n, paired=False)
    share_a, share_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    error = math.sqrt(share_a + share_b)
    if error == 0:
        return Difference(estimate, estimate, estimate, n, paired=False)
    # Welch-Satterthwaite degrees of freedom.
    freedom = (share_a + share_b) ** 2 / (share_a**2 / (len(a) - 1) + share_b**2 / (len(b) - 1))
    half = _t_quantile(freedom) * error
    return Difference(estimate, estimate - half, estimate + half, n, paired=False)


def difference(a: dict, b: dict) -> Difference:
    """`a - b` for two configurations given as {seed: value}: paired when they ran the same
    seeds (a shared seed shares the data split and initialisation, so pairing removes
    that noise), else unpaired."""
    if len(a) >= 2 and set(a) == set(b):
        seeds = sorted(a)
        return paired_difference([a[s] for s in seeds], [b[s] for s in seeds])
    return welch_difference(list(a.values()), list(b.values()))


def verdict(change: Difference, better: str) -> str:
    """What a report calls `a - b`: an improvement or worse only when the interval excludes
    zero; otherwise within noise, or not judged with a single seed. `better` is "lower"
    or "higher"."""
    if not change.judgeable:
        return "cannot be judged with a single seed"
    if change.same_for_every_seed:
        return (
            "the same for every seed; the seeds changed nothing, so they cannot tell "
            "noise from effect"
        )
    if not change.excludes_zero:
        return f"within noise (n={change.n})"
    improves = (change.estimate < 0) == (better == "lower")
    return "an improvement" if improves else "worse"


def _t_quantile(freedom: float) -> float:
    return float(stats.t.ppf((1 + CONFIDENCE) / 2, freedom))
