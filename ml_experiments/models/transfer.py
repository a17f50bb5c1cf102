"""What transfer learning needs from a model: weights copied from another run, and
parts of the network frozen.

A frozen parameter gets no gradient, and a frozen batch-norm layer stays in eval
mode: its running statistics are the pretrained ones, not this data's.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ml_experiments.errors import ConfigError


def set_trainable(module: nn.Module, trainable: bool) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(trainable)


def keep_frozen_batch_norm_in_eval(model: nn.Module) -> None:
    """Call after `model.train()`: put back in eval mode every batch norm that is frozen."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.weight is not None:
            if not module.weight.requires_grad:
                module.eval()


class FreezableModule(nn.Module):
    """A model with parts that may be frozen: `train()` leaves their batch norm in eval."""

    def train(self, mode: bool = True):
        super().train(mode)
        keep_frozen_batch_norm_in_eval(self)
        return self


def copy_backbone(model: nn.Module, path: Path, backbone: str = "features") -> int:
    """Copy the `backbone` submodule's weights from the checkpoint file `path`; return how
    many tensors were copied. The shapes must match: same architecture, same widths."""
    from ml_experiments.engine import checkpoint

    if not path.is_file():
        raise ConfigError(
            f"model.weights={path} is neither a checkpoint file nor an MLflow run id. "
            "Pass the best.pt of a trained run, or its run id."
        )
    saved = checkpoint.load(path)["model"]
    prefix = f"{backbone}."
    wanted = {key[len(prefix) :]: value for key, value in saved.items() if key.startswith(prefix)}
    target = getattr(model, backbone)
    own = target.state_dict()
    mismatched = [key for key in own if key not in wanted or wanted[key].shape != own[key].shape]
    if mismatched:
        raise ConfigError(
            f"model.weights={path} was trained with another architecture "
            f"({len(mismatched)} of {len(own)} {backbone} tensors differ, e.g. "
            f"{prefix}{mismatched[0]}). Use the same model options as that run."
        )
    with torch.no_grad():
        target.load_state_dict(wanted)
    return len(wanted)
