"""The entry point: `python -m ml_experiments.train [group=option] [key=value] ...`.

Hydra composes `conf/`; `main` runs one experiment and returns the value of
`optimized_metric`, which a sweeper (e.g. Optuna) minimizes or maximizes, or
None when a job of a sweep failed.
Heavy libraries (torch, mlflow) are imported inside `main`, so `--help` and
`--cfg job` stay fast.
"""

import gc
import logging
import math
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


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from ml_experiments.experiment import run
    from ml_experiments.sweeps import finished_job
    from ml_experiments.tracking.run import RunContext
    from ml_experiments.tracking.sweep_record import read_sweep
    from ml_experiments.tuning.trial import trial_link

    hydra_cfg = HydraConfig.get()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
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
    except StopRequested as stop:
        log.error("stopped by signal %d; the MLflow run is marked KILLED", stop.signum)
        sys.exit(128 + stop.signum)
    except KeyboardInterrupt:
        log.error("interrupted; the MLflow run is marked KILLED")
        sys.exit(130)
    return None if math.isnan(objective) else objective  # Optuna's sweeper fails on NaN


if __name__ == "__main__":
    from ml_experiments.config.suggestions import report_misspellings
    from ml_experiments.sweeps import force_group_overrides

    sys.argv = force_group_overrides(sys.argv)
    report_misspellings()
    main()
    # The process ends here: skip collecting torch's large heap at exit (about 3 s).
    gc.freeze()
