"""Optuna with and without pruning: the same search (`hparams_search=digits_optuna`, 20
trials of the digits MLP), the same sampler seed, with `hydra.sweeper.pruner=none` and
`median`, each on a fresh store and study; wall time and the best validation accuracy.

    python bench/pruning.py [--seeds 3] [--trials 20]

Each seed is one pair of sweeps; the table gives the median over seeds and each value.
"""

from __future__ import annotations

import argparse

from common import median, scratch_store, train, write_results

PRUNERS = ["none", "median"]


def best_and_pruned(outputs) -> tuple[float, int]:
    import optuna

    study = optuna.load_study(study_name="digits", storage=f"sqlite:///{outputs}/optuna.db")
    pruned = sum(trial.state == optuna.trial.TrialState.PRUNED for trial in study.trials)
    return study.best_value, pruned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    seconds = {pruner: [] for pruner in PRUNERS}
    best = {pruner: [] for pruner in PRUNERS}
    pruned = {pruner: [] for pruner in PRUNERS}
    for seed in range(args.seeds):
        for pruner in PRUNERS:
            scratch, store = scratch_store("pruning")
            command = ["-m", "hparams_search=digits_optuna", f"seed={seed}",
                       f"hydra.sweeper.n_trials={args.trials}", f"hydra.sweeper.pruner={pruner}",
                       "logger.log_model=false"]  # fmt: skip
            seconds[pruner].append(train(command, store, scratch))
            value, count = best_and_pruned(scratch)
            best[pruner].append(value)
            pruned[pruner].append(count)
            print(f"seed {seed}, pruner {pruner}: {seconds[pruner][-1]:.1f} s, "
                  f"best val/acc {value:.4f}, {count} pruned", flush=True)  # fmt: skip

    def row(pruner: str) -> str:
        times, values = seconds[pruner], best[pruner]
        return (
            f"| {pruner} | {median(times):.1f} | {', '.join(f'{t:.1f}' for t in times)} "
            f"| {median(values):.4f} | {', '.join(f'{v:.4f}' for v in values)} "
            f"| {', '.join(str(count) for count in pruned[pruner])} |"
        )

    ratio = median(seconds["median"]) / median(seconds["none"])
    body = f"""{args.trials} trials of the digits MLP (`hparams_search=digits_optuna`: learning rate,
widths, dropout, batch size; 40 epochs at most, early stopping on), TPE seeded with each
seed, one sweep per pruner and seed on a fresh store, launch to exit.

| pruner | median seconds | each seed | median best val/acc | each seed | trials pruned |
|---|---|---|---|---|---|
{row("none")}
{row("median")}

With the median pruner the sweep takes {ratio:.2f}x the time of the sweep without it. A
trial is pruned when its val/acc after an epoch is below the median of the earlier
trials at that epoch (after 5 complete trials). The best value is the study's best trial:
compare it against the spread over seeds before calling a difference real."""
    write_results("pruning", "Optuna: median pruning against none", body)


if __name__ == "__main__":
    main()
