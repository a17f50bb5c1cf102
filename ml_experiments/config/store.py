"""Register the schemas in Hydra's ConfigStore and the resolvers the YAML configs use.

Each command calls `register_configs()` before Hydra composes: `conf/` refers to
`schemas/<group>/<option>` nodes and to the resolvers below.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from ml_experiments import paths
from ml_experiments.config.metric_names import direction
from ml_experiments.config.schemas import SCHEMAS, Config, EvaluateConfig, PredictConfig

# What `--cfg job --resolve` shows for the run's folder: Hydra picks it when a run starts.
RUN_DIR_NOT_CHOSEN = "<the run's output folder>"


def _run_dir() -> str:
    """`${run_dir:}`: Hydra's output folder of this job (`hydra:runtime.output_dir`, which
    is unset when Hydra only prints the config)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return RUN_DIR_NOT_CHOSEN
    return OmegaConf.select(HydraConfig.get(), "runtime.output_dir") or RUN_DIR_NOT_CHOSEN


def _optuna_direction(metric: str) -> str:
    """`${optuna_direction:val/acc}` -> maximize: a sweeper's direction follows the metric."""
    try:
        return "minimize" if direction(metric) == "min" else "maximize"
    except KeyError:
        raise ValueError(f"optimized_metric={metric} has no known direction") from None


RESOLVERS = {
    "project_root": lambda: str(paths.PROJECT_ROOT),
    "default_outputs_dir": lambda: str(paths.DEFAULT_OUTPUTS_DIR),
    "default_tracking_uri": paths.default_tracking_uri,  # ${default_tracking_uri:<outputs dir>}
    "run_dir": _run_dir,
    "safe_name": paths.safe_folder_name,  # ${safe_name:${name}}: one folder, never a path
    "optuna_direction": _optuna_direction,
}


def register_configs() -> None:
    """Put every schema in the ConfigStore and register the resolvers (once per process)."""
    store = ConfigStore.instance()
    store.store(name="config_schema", node=Config)
    store.store(name="evaluate_schema", node=EvaluateConfig)
    store.store(name="predict_schema", node=PredictConfig)
    for group, schemas in SCHEMAS.items():
        for name, schema in schemas.items():
            store.store(group=f"schemas/{group}", name=name, node=schema)
    for name, resolver in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
