"""ResNet18 from a local state dict: the CIFAR stem, each freezing policy and the
parameter groups."""

from __future__ import annotations

import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DatasetMeta
from ml_experiments.models.resnet import ResNet18Classifier
from tests.helpers.data_files import CIFAR_CLASSES

META = DatasetMeta(
    "cifar10",
    Task.classification,
    (3, 32, 32),
    class_names=CIFAR_CLASSES,
    channel_mean=[0.5] * 3,
    channel_std=[0.25] * 3,
    modality=Modality.image,
)


def trainable(model: ResNet18Classifier) -> set[str]:
    return {name.split(".")[1] for name, p in model.named_parameters() if p.requires_grad}


def test_resnet18_loads_a_local_state_dict_under_a_new_head(resnet_file):
    model = ResNet18Classifier(META, weights=str(resnet_file))
    model.load_pretrained(model.weights)
    saved = torch.load(resnet_file, weights_only=True)
    assert torch.equal(model.net.layer3[0].conv1.weight, saved["layer3.0.conv1.weight"])
    assert model.net.fc[-1].out_features == 10
    torch.testing.assert_close(model.normalize.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_the_cifar_stem_is_new_and_keeps_32_pixel_detail(resnet_file):
    model = ResNet18Classifier(META, weights=str(resnet_file), cifar_stem=True, freeze="backbone")
    model.load_pretrained(model.weights)
    assert model.net.conv1.kernel_size == (3, 3) and model.net.conv1.stride == (1, 1)
    assert isinstance(model.net.maxpool, torch.nn.Identity)
    assert trainable(model) == {"fc", "conv1", "bn1"}  # the new stem trains with the head
    features = model.net.layer4(model.net.layer3(model.net.layer2(model.net.layer1(
        model.net.conv1(torch.rand(1, 3, 32, 32))))))  # fmt: skip
    assert features.shape[-1] == 4  # 32 / 8, where the ImageNet stem would leave 1


def test_freezing_policies_choose_which_parameters_get_gradients(resnet_file):
    everything = {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"}
    assert trainable(ResNet18Classifier(META, weights=str(resnet_file))) == everything
    probe = ResNet18Classifier(META, weights=str(resnet_file), freeze="backbone")
    assert trainable(probe) == {"fc"}
    probe.train()
    assert not probe.net.layer2[0].bn1.training  # frozen batch norm keeps its statistics
    assert probe.net.fc.training
    gradual = ResNet18Classifier(META, weights=str(resnet_file), freeze="gradual",
                                 unfreeze_every=2)  # fmt: skip
    seen = {}
    for epoch in range(1, 12, 2):
        gradual.on_epoch_start(epoch)
        seen[epoch] = trainable(gradual)
    assert seen[1] == {"fc"}
    assert seen[3] == {"fc", "layer4"}
    assert seen[5] == {"fc", "layer4", "layer3"}
    assert seen[11] == everything
    gradual.on_epoch_start(3)
    gradual.train()
    assert gradual.net.layer4[0].bn1.training and not gradual.net.layer3[0].bn1.training


def test_discriminative_learning_rates_shrink_down_the_network(resnet_file):
    model = ResNet18Classifier(META, weights=str(resnet_file), layer_lr_decay=0.5)
    groups = model.parameter_groups(0.1)
    assert [(g["name"], g["lr"]) for g in groups] == [
        ("head", 0.1), ("layer4", 0.05), ("layer3", 0.025), ("layer2", 0.0125),
        ("layer1", 0.00625), ("stem", 0.003125),
    ]  # fmt: skip
    grouped = [id(p) for group in groups for p in group["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())  # each exactly once
