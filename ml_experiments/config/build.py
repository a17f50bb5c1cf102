"""Turn a config node with a `_target_` into an object."""

from dataclasses import dataclass, field
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ml_experiments import paths
from ml_experiments.errors import ConfigError

# Keys that describe a component for people and logs, not arguments of its constructor.
DESCRIPTIVE_KEYS = ("name", "default_lr")


def plain_options(node: DictConfig, drop: tuple[str, ...] = DESCRIPTIVE_KEYS) -> dict[str, Any]:
    """The node as a resolved plain dict (enums as strings), without the `drop` keys."""
    options = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    return {key: value for key, value in options.items() if key not in drop}


def dotted_items(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as dotted keys: {"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat |= dotted_items(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def build(
    node: DictConfig, drop: tuple[str, ...] = DESCRIPTIVE_KEYS, **runtime_arguments: Any
) -> Any:
    """Instantiate `node`, adding arguments only known at run time (data metadata, seed).

    The runtime arguments are passed to the call, not through Hydra, which would
    turn objects such as dataclasses into dicts.
    """
    options = plain_options(node, drop)
    factory = instantiate(options, _partial_=True, _convert_="all")
    try:
        return factory(**runtime_arguments)
    except (ValueError, TypeError) as error:  # e.g. torch: "Invalid dropout probability"
        raise ConfigError(
            f"{options['_target_']} rejected its options: {error}. Check the keys under "
            f"{node._key()}."
        ) from error


def key_value_options(schema: type, arguments: list[str], verbatim: tuple[str, ...] = ()):
    """Command-line `key=value` arguments read into the dataclass `schema`, checked
    against its keys and types. Keys in `verbatim` keep their text as typed: a run id is
    hex, and YAML would read 000...0 as 0 and 1e5... as a float."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.from_dotlist(arguments))
    except (OmegaConfBaseException, ValueError) as error:
        keys = ", ".join(dotted_items(OmegaConf.to_container(OmegaConf.structured(schema))))
        raise ConfigError(f"{error}. Arguments are key=value, keys: {keys}.") from error
    options = OmegaConf.to_object(merged)
    for argument in arguments:
        key, _, value = argument.partition("=")
        if key in verbatim:
            setattr(options, key, value)
    return options


@dataclass
class OutputsPaths:
    outputs_dir: str = str(paths.DEFAULT_OUTPUTS_DIR)


@dataclass
class StoreOptions:
    """The `key=value` options every command reading the store takes: the outputs folder
    and the store, MLFLOW_TRACKING_URI or else <outputs_dir>/mlflow.db by default."""

    paths: OutputsPaths = field(default_factory=OutputsPaths)
    tracking_uri: str | None = None

    def __post_init__(self) -> None:
        if self.tracking_uri is None:
            self.tracking_uri = paths.default_tracking_uri(self.paths.outputs_dir)
