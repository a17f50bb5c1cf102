"""The entry point: `python -m ml_experiments.train [group=option] [key=value] ...`.

Hydra composes `conf/`; `main` runs one experiment and returns the value of
`optimized_metric`, which a sweeper (e.g. Optuna) minimizes or maximizes, or
None when a job of a sweep failed.
Heavy libraries (torch, mlflow) are imported inside `main`, so `--help` and
`--cfg job` stay fast.

`torchrun --nproc-per-node=N -m ml_experiments.train ...` runs one run in N processes
(docs/distributed.md).
"""

import gc
import logging
import math
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ml_experiments.config import register_configs
from ml_experiments.errors import StopRequested, TrialPruned, UserError

register_configs()
log = logging.getLogger("ml_experiments.train")
SWEEP_UNDER_TORCHRUN = (
    "error: torchrun runs one run in several processes, not a sweep (-m). For a sweep whose "
    "jobs each train on several GPUs, use hydra/launcher=slurm "
    "hydra.launcher.tasks_per_node=<GPUs per job> (docs/distributed.md)."
)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from ml_experiments.engine.distributed import RankZeroStopped, announce_output_dir
    from ml_experiments.experiment import run
    from ml_experiments.sweeps import finished_job
    from ml_experiments.tracking.run import RunContext
    from ml_experiments.tracking.sweep_record import read_sweep
    from ml_experiments.tuning.trial import trial_link

    hydra_cfg = HydraConfig.get()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    announce_output_dir(Path(hydra_cfg.runtime.output_dir))  # rank 0, to torchrun's others
    context = RunContext(
        output_dir=Path(hydra_cfg.runtime.output_dir),
        overrides=list(hydra_cfg.overrides.task),
        choices=dict(hydra_cfg.runtime.choices),
        job_number=hydra_cfg.job.num if in_sweep else None,
        sweep=read_sweep(Path(hydra_cfg.sweep.dir).resolve()) if in_sweep else None,
        trial=trial_link(hydra_cfg.sweeper) if in_sweep else None,
    )
    if context.sweep is not None:
        done = finished_job(context.sweep, context.overrides, cfg.optimized_metric)
        if done is not None:
            log.info("this job already finished in run %s: skipped", done[0])
            return None if math.isnan(done[1]) else done[1]
    try:
        objective = run(cfg, context)
    except UserError as error:
        log.error("%s", error)
        if in_sweep:
            # One job's options (a learning rate that diverges, say) must not end the
            # sweep: its run is FAILED, and no value is a failed trial to Optuna.
            return None
        sys.exit(1)
    except TrialPruned as pruned:
        log.info("%s; the MLflow run is marked KILLED with the tag pruned=true", pruned)
        return None  # the sweeper tells Optuna the trial was pruned
    except RankZeroStopped as stopped:
        log.info("%s; this process stops with it", stopped)
        return None
    except StopRequested as stop:
        log.error("stopped by signal %d; the MLflow run is marked KILLED", stop.signum)
        sys.exit(128 + stop.signum)
    except KeyboardInterrupt:
        log.error("interrupted; the MLflow run is marked KILLED")
        sys.exit(130)
    return None if math.isnan(objective) else objective  # Optuna's sweeper fails on NaN


def _started_by_torchrun() -> bool:
    """torchrun sets WORLD_SIZE in every process it starts (read here without torch)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _main_under_torchrun() -> None:
    """Every process of a torchrun runs the one run. Rank 0 composes the config and makes
    the output folder (Hydra's `${now:}` would name another one in each process); the
    others wait for its name and join it."""
    from ml_experiments.engine import distributed

    if {"-m", "--multirun"} & set(sys.argv):
        sys.exit(SWEEP_UNDER_TORCHRUN)
    world = distributed.launched_world()
    if world.is_main:
        try:
            main()
        finally:  # when no run started (--cfg job, --help, an error), nobody waits for one
            distributed.announce_output_dir(None)
        return
    folder = distributed.announced_output_dir()
    if folder is None:
        return  # rank 0 started no run, and says why
    sys.argv += _joining_overrides(folder, world.rank)
    main()


def _joining_overrides(folder: Path, rank: int) -> list[str]:
    """Hydra overrides for a rank other than 0: rank 0's output folder, without writing its
    .hydra/ again; a log file of its own; only warnings and errors on the console."""
    log_file = folder / f"train_rank{rank}.log"
    return [
        f"hydra.run.dir={_quoted(str(folder))}",
        "hydra.output_subdir=null",
        f"hydra.job_logging.handlers.file.filename={_quoted(str(log_file))}",
        "++hydra.job_logging.handlers.console.level=WARNING",
    ]


def _quoted(value: str) -> str:
    """A value as a quoted string in Hydra's override grammar."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


if __name__ == "__main__":
    from ml_experiments.config.suggestions import report_misspellings
    from ml_experiments.sweeps import force_group_overrides

    sys.argv = force_group_overrides(sys.argv)
    report_misspellings()
    if _started_by_torchrun():
        _main_under_torchrun()
    else:
        main()
    # The process ends here: skip collecting torch's large heap at exit (about 3 s).
    gc.freeze()
