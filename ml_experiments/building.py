"""Turn a config node with a `_target_` into an object."""

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

# Keys that describe a component for people and logs, not arguments of its constructor.
DESCRIPTIVE_KEYS = ("name",)


def plain_options(node: DictConfig, drop: tuple[str, ...] = DESCRIPTIVE_KEYS) -> dict[str, Any]:
    """The node as a resolved plain dict (enums as strings), without the `drop` keys."""
    options = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    return {key: value for key, value in options.items() if key not in drop}


def build(
    node: DictConfig, drop: tuple[str, ...] = DESCRIPTIVE_KEYS, **runtime_arguments: Any
) -> Any:
    """Instantiate `node`, adding arguments only known at run time (data metadata, seed).

    The runtime arguments are passed to the call, not through Hydra, which would
    turn objects such as dataclasses into dicts.
    """
    factory = instantiate(plain_options(node, drop), _partial_=True, _convert_="all")
    return factory(**runtime_arguments)
