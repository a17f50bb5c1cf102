"""What a run's data was: a digest of every split's contents and their sizes.

Recorded with the run (its dataset metadata and `data/digest`), so that `evaluate` can
tell whether the data it rebuilds today is the data the model was trained and tested on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ml_experiments.data.base import DataBundle, DatasetMeta

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataFingerprint:
    digest: str  # sha256 of the splits' digests
    rows: dict[str, int]
    split_digests: dict[str, str] = field(default_factory=dict)  # sha256 of inputs, targets

    def differences(self, recorded: DataFingerprint) -> list[str]:
        """What changed since `recorded`, in words: row counts first, else the contents."""
        changed = [
            f"{split} has {self.rows[split]} rows, was {recorded.rows.get(split)}"
            for split in SPLITS
            if self.rows[split] != recorded.rows.get(split)
        ]
        if not changed and self.digest != recorded.digest:
            changed.append(
                f"the same row counts hold other values (digest {self.digest[:12]}, "
                f"was {recorded.digest[:12]})"
            )
        return changed


def stamped(data: DataBundle, current: DataFingerprint) -> DataBundle:
    """`data` with its fingerprint in its metadata, which the run and its checkpoints keep."""
    meta = replace(data.meta, data_digest=current.digest, split_rows=current.rows)
    return replace(data, meta=meta)


def recorded(meta: DatasetMeta) -> DataFingerprint | None:
    """The fingerprint a trained model's metadata holds; None for runs from before it."""
    if meta.data_digest is None or meta.split_rows is None:
        return None
    return DataFingerprint(meta.data_digest, dict(meta.split_rows))


def fingerprint(data: DataBundle) -> DataFingerprint:
    """The digest of the raw splits as the dataset loader returns them (before a text
    model's tokenizer), so it is the same for every model trained on this data."""
    split_digests = {name: _split_digest(getattr(data, name)) for name in SPLITS}
    digest = hashlib.sha256("".join(split_digests.values()).encode()).hexdigest()
    rows = {name: len(getattr(data, name)) for name in SPLITS}
    return DataFingerprint(digest, rows, split_digests)


def _split_digest(split) -> str:
    digest = hashlib.sha256()
    if hasattr(split, "texts"):  # a TextSplit (not imported: data.text loads pandas)
        for text in split.texts:
            digest.update(str(text).encode("utf-8", "surrogatepass") + b"\0")
    else:
        _add_tensor(digest, split.x)
    _add_tensor(digest, split.y)
    return digest.hexdigest()


def _add_tensor(digest, values: torch.Tensor) -> None:
    array = np.ascontiguousarray(values.detach().cpu().numpy())
    digest.update(str((array.dtype, array.shape)).encode())
    digest.update(array.data)
