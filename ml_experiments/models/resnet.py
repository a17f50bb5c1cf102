"""Stage 5: torchvision's ResNet18 for transfer learning.

- `weights`: torchvision's ImageNet weights by name (`IMAGENET1K_V1`, cached where
  torchvision caches), a local state-dict file (for machines without internet), or
  null for random weights.
- The head is replaced by one sized for the dataset's classes.
- `cifar_stem`: a 3x3 stride-1 first convolution and no max-pool, for 32x32 images.
  That convolution is new (the 7x7 ImageNet one does not fit it), so it always trains.
- `freeze`: `none` (fine-tune everything), `backbone` (a linear probe: only the head
  trains), or `gradual` (the head first, then one more stage from the top every
  `unfreeze_every` epochs).
- `layer_lr_decay`: discriminative learning rates. The head gets the optimizer's
  lr, layer4 that times the decay, layer3 times its square, and so on down.

The model normalizes its own [0, 1] input, with ImageNet's statistics when it starts
from ImageNet weights and the training images' otherwise.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import torch
from torch import nn

from ml_experiments.config.schemas import Modality
from ml_experiments.data import DatasetMeta
from ml_experiments.errors import ConfigError, DataError
from ml_experiments.models.cnn import Normalize
from ml_experiments.models.transfer import FreezableModule, set_trainable

log = logging.getLogger(__name__)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# From the top of the network down: the order of gradual unfreezing and of the
# learning-rate decay.
STAGES = ["layer4", "layer3", "layer2", "layer1", "stem"]
DOWNLOAD_TIMEOUT_SECONDS = 30


class ResNet18Classifier(FreezableModule):
    def __init__(
        self,
        meta: DatasetMeta,
        weights: str | None = "IMAGENET1K_V1",
        cifar_stem: bool = False,
        freeze: str = "none",
        unfreeze_every: int = 1,
        layer_lr_decay: float = 1.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        import torchvision

        if meta.modality != Modality.image or meta.input_shape[0] != 3:
            raise ConfigError(
                f"model=resnet18 takes colour images (3, height, width); dataset {meta.name} "
                f"gives inputs of shape {meta.input_shape}."
            )
        if unfreeze_every < 1 or layer_lr_decay <= 0:
            raise ConfigError(
                f"model.unfreeze_every must be at least 1 (got {unfreeze_every}) and "
                f"model.layer_lr_decay above 0 (got {layer_lr_decay})"
            )
        if freeze != "none" and weights is None:
            raise ConfigError(
                f"model.freeze={freeze} freezes pretrained layers, but model.weights=null "
                "starts from random ones. Set model.weights, or model.freeze=none."
            )
        self.weights = weights
        self.freeze = freeze
        self.unfreeze_every = unfreeze_every
        self.layer_lr_decay = layer_lr_decay
        self.cifar_stem = cifar_stem
        pretrained = weights is not None
        self.normalize = Normalize(
            IMAGENET_MEAN if pretrained else meta.channel_mean,
            IMAGENET_STD if pretrained else meta.channel_std,
        )
        self.net = torchvision.models.resnet18(weights=None)
        self.net.fc = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(self.net.fc.in_features, meta.output_size)
        )
        if cifar_stem:
            self.net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            self.net.maxpool = nn.Identity()
        self.on_epoch_start(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(images))

    # --- pretrained weights -------------------------------------------------------

    def load_pretrained(self, source: str) -> None:
        """Load `source` (torchvision weights by name, or a state-dict file) into everything
        but the head (and the CIFAR stem's new conv)."""
        state = _pretrained_state(source)
        skipped = ("fc.", "conv1.") if self.cifar_stem else ("fc.",)
        state = {key: value for key, value in state.items() if not key.startswith(skipped)}
        missing, unexpected = self.net.load_state_dict(state, strict=False)
        missing = [key for key in missing if not key.startswith(skipped)]
        if missing or unexpected:
            raise ConfigError(
                f"model.weights={self.weights} is not a ResNet18 state dict: "
                f"{len(missing)} tensors missing (e.g. {missing[:2]}), "
                f"{len(unexpected)} unexpected (e.g. {unexpected[:2]})."
            )
        log.info("loaded ResNet18 weights %s", self.weights)

    # --- freezing and learning rates -------------------------------------------

    def stage_modules(self) -> dict[str, list[nn.Module]]:
        net = self.net
        stem = [net.conv1, net.bn1]
        return {
            "head": [net.fc],
            **{name: [getattr(net, name)] for name in STAGES[:-1]},
            "stem": stem,
        }

    def on_epoch_start(self, epoch: int) -> None:
        """Apply the freezing policy for this epoch (1-based); gradual unfreezing moves on."""
        trainable = set(self.trainable_stages(epoch))
        for name, modules in self.stage_modules().items():
            for module in modules:
                set_trainable(module, name in trainable)

    def trainable_stages(self, epoch: int) -> list[str]:
        always = ["head"] + (["stem"] if self.cifar_stem else [])  # new layers always train
        if self.freeze == "none":
            return ["head", *STAGES]
        if self.freeze == "backbone":
            return always
        opened = (epoch - 1) // self.unfreeze_every  # stages unfrozen so far, from the top
        return always + STAGES[:opened]

    def parameter_groups(self, lr: float) -> list[dict]:
        """One optimizer group per stage; lower stages get smaller learning rates."""
        groups = []
        for depth, (name, modules) in enumerate(self.stage_modules().items()):
            new_stem = name == "stem" and self.cifar_stem
            scale = 1.0 if new_stem else self.layer_lr_decay**depth
            params = [p for module in modules for p in module.parameters()]
            groups.append({"params": params, "lr": lr * scale, "name": name})
        return groups


def _pretrained_state(weights: str) -> dict[str, torch.Tensor]:
    path = Path(weights).expanduser()
    if path.suffix in (".pth", ".pt") or path.exists():
        if not path.is_file():
            raise ConfigError(f"model.weights={weights}: no such file.")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch.load fails in many ways on a wrong file
            raise ConfigError(
                f"model.weights={weights} is not a readable state dict ({type(error).__name__}). "
                "Save one with torch.save(torchvision.models.resnet18(...).state_dict(), path)."
            ) from error
    from torchvision.models import ResNet18_Weights

    try:
        chosen = ResNet18_Weights[weights]
    except KeyError:
        names = ", ".join(member.name for member in ResNet18_Weights)
        raise ConfigError(
            f"model.weights={weights} is neither a file nor torchvision weights ({names}, "
            "DEFAULT); or null for random weights."
        ) from None
    return _download(chosen, weights)


def _download(chosen, name: str) -> dict[str, torch.Tensor]:
    cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(chosen.url).name
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)  # torch.hub waits forever otherwise
    try:
        return chosen.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise DataError(
            f"the ResNet18 weights {name} are not cached at {cache} and cannot be downloaded "
            f"from {chosen.url} ({type(error).__name__}: {error}). On a machine without "
            f"internet, copy that file to {cache}, or pass a local state dict: "
            "model.weights=/path/to/resnet18.pth (or model.weights=null to start from random "
            "weights)."
        ) from error
    finally:
        socket.setdefaulttimeout(previous)
