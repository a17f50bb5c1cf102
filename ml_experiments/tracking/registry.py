"""The MLflow model registry: a run's model registered under a name, a sweep's best as
the `champion`, and `models:/<name>@<alias>` or `models:/<name>/<version>` back to the run
that logged it (whose files `predict` and `evaluate` load)."""

from __future__ import annotations

import logging
import re

from ml_experiments.errors import ConfigError, UserError

log = logging.getLogger(__name__)
CHAMPION = "champion"
REGISTERED_MODEL = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")


def model_argument_renamed(arguments: list[str]) -> list[str]:
    """`model=models:/...` on the command line as `model_uri=...`: Hydra reads `model=` as
    a choice in the config group of models, which predict and evaluate do not have."""
    prefix = "model=models:/"
    return [
        f"model_uri={argument.removeprefix('model=')}" if argument.startswith(prefix) else argument
        for argument in arguments
    ]


def register(model_id: str, name: str, alias: str | None = None) -> str:
    """Register the LoggedModel `model_id` as a new version of `name`; return the version."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        version = mlflow.register_model(f"models:/{model_id}", name).version
    except MlflowException as error:
        raise ConfigError(f"cannot register the model as {name!r}: {error.message}") from error
    if alias is not None:
        mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    log.info("registered as %s version %s%s", name, version, f" (@{alias})" if alias else "")
    return str(version)


def run_of(model_uri: str, tracking_uri: str) -> str:
    """The id of the run that logged the registered model version `model_uri` names, in
    the store at `tracking_uri`."""
    import mlflow
    from mlflow.exceptions import MlflowException

    match = REGISTERED_MODEL.match(model_uri)
    if match is None:
        raise UserError(
            f"model={model_uri} is not a registered model: write models:/<name>@<alias> "
            "(e.g. models:/digits@champion) or models:/<name>/<version>"
        )
    client = mlflow.MlflowClient(tracking_uri)
    name, alias, version = match["name"], match["alias"], match["version"]
    try:
        if alias is not None:
            found = client.get_model_version_by_alias(name, alias)
        else:
            found = client.get_model_version(name, version)
    except MlflowException as error:
        known = ", ".join(model.name for model in client.search_registered_models()) or "none"
        raise UserError(
            f"no registered model version {model_uri} ({error.message}). Registered "
            f"models: {known}; register one with logger.register_as=<name>."
        ) from error
    return found.run_id
