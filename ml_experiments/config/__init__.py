"""Configuration: the schemas every option is checked against, their registration with
Hydra, the rules across keys, and turning a config node into an object."""

from ml_experiments.config.store import register_configs

__all__ = ["register_configs"]
