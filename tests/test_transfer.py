"""Stage 5: CIFAR-10 in its real pickle format, ResNet18 from a local state dict with each
freezing policy and its parameter groups, the no-network error, and transfer of a CNN's
features from one run to another."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from ml_experiments.data import DatasetMeta
from ml_experiments.data.base import CLASSIFICATION
from ml_experiments.data.vision import load_torchvision_images
from ml_experiments.models.resnet import ResNet18Classifier
from tests.conftest import run_module

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"]  # fmt: skip
IMAGES_PER_BATCH = 20


def cifar_batch(count: int, seed: int) -> dict:
    """A batch as CIFAR-10's python files hold it: rows of 3072 uint8 (R, G, B planes)."""
    rng = np.random.default_rng(seed)
    labels = [int(label) for label in rng.integers(0, 10, count)]
    colours = np.array([[label * 25, 255 - label * 25, (label * 70) % 256] for label in labels])
    planes = colours[:, :, None] + rng.integers(-10, 10, (count, 3, 1024))
    data = np.clip(planes, 0, 255).astype(np.uint8).reshape(count, 3072)
    return {"batch_label": f"batch {seed}", "labels": labels, "data": data,
            "filenames": [f"image_{seed}_{i}.png" for i in range(count)]}  # fmt: skip


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    names = [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        with (folder / name).open("wb") as file:
            pickle.dump(cifar_batch(IMAGES_PER_BATCH, seed), file)
    with (folder / "batches.meta").open("wb") as file:
        pickle.dump({"label_names": CIFAR_CLASSES, "num_vis": 3072}, file)
    return root


def test_cifar10_reads_the_pickled_batches_and_resizes_each_batch(cifar_root):
    data = load_torchvision_images(
        name="cifar10", source="cifar10", root=str(cifar_root), download=False, val_size=10,
        train_subset=None, test_subset=None, resize=48, augment={"crop_padding": 4, "flip": True},
        seed=0,
    )  # fmt: skip
    assert (len(data.train), len(data.val), len(data.test)) == (90, 10, 20)
    assert data.train.x.shape[1:] == (3, 32, 32) and data.train.x.dtype == torch.uint8
    batches = [cifar_batch(IMAGES_PER_BATCH, seed) for seed in range(5)]
    labels = sorted(label for batch in batches for label in batch["labels"])
    assert sorted(torch.cat([data.train.y, data.val.y]).tolist()) == labels
    pixels = sum(int(batch["data"].astype(np.int64).sum()) for batch in batches)
    assert int(torch.cat([data.train.x, data.val.x]).long().sum()) == pixels
    test_batch = torch.from_numpy(cifar_batch(IMAGES_PER_BATCH, 5)["data"].reshape(-1, 3, 32, 32))
    assert torch.equal(data.test.x, test_batch)  # test_batch, in file order
    assert data.meta.input_shape == (3, 48, 48) and data.meta.class_names == CIFAR_CLASSES
    batch = data.prepare_batch(data.train.x[:4], True)
    assert batch.shape == (4, 3, 48, 48) and 0.0 <= batch.min() and batch.max() <= 1.0


def test_missing_cifar_files_say_where_and_how(tmp_path):
    from ml_experiments.errors import DataError

    with pytest.raises(DataError, match="cifar-10-batches-py and dataset.download=false"):
        load_torchvision_images(
            name="cifar10", source="cifar10", root=str(tmp_path), download=False, val_size=10,
            train_subset=None, test_subset=None, resize=None, augment={}, seed=0,
        )  # fmt: skip


META = DatasetMeta("cifar10", CLASSIFICATION, (3, 32, 32), class_names=CIFAR_CLASSES,
                   channel_mean=[0.5] * 3, channel_std=[0.25] * 3)  # fmt: skip


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory):
    """A local ResNet18 state dict, as a machine without internet would be given."""
    import torchvision

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(torchvision.models.resnet18(num_classes=1000).state_dict(), path)
    return path


def trainable(model: ResNet18Classifier) -> set[str]:
    return {name.split(".")[1] for name, p in model.named_parameters() if p.requires_grad}


def test_resnet18_loads_a_local_state_dict_under_a_new_head(resnet_file):
    model = ResNet18Classifier(META, weights=str(resnet_file))
    model.load_pretrained()
    saved = torch.load(resnet_file, weights_only=True)
    assert torch.equal(model.net.layer3[0].conv1.weight, saved["layer3.0.conv1.weight"])
    assert model.net.fc[-1].out_features == 10
    torch.testing.assert_close(model.normalize.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_the_cifar_stem_is_new_and_keeps_32_pixel_detail(resnet_file):
    model = ResNet18Classifier(META, weights=str(resnet_file), cifar_stem=True, freeze="backbone")
    model.load_pretrained()
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


def test_resnet18_fine_tunes_on_cifar_through_the_entry_point(
    train, store, cifar_root, resnet_file, tmp_path
):
    train(
        "experiment=cifar10_resnet18",
        f"paths.data_dir={cifar_root}",
        "name=cifar_resnet_steps",
        f"model.weights={resnet_file}",
        "model.freeze=gradual",
        "dataset.val_size=20",
        "dataset.resize=40",
        "trainer.max_epochs=2",
        "trainer.batch_size=16",
        "logger.log_model=false",
    )
    run = store.only_run("cifar_resnet_steps")
    assert run.info.status == "FINISHED"
    assert run.data.params["data/input_shape"] == "[3, 40, 40]"
    # Gradual unfreezing in the loop: epoch 1 trains the head, epoch 2 adds layer4; the
    # rest is still the file's weights.
    trained = torch.load(f"{run.data.tags['checkpoint_dir']}/last.pt", weights_only=True)
    trained = trained["model"]
    original = torch.load(resnet_file, weights_only=True)
    for key in ("conv1.weight", "layer1.0.conv1.weight", "layer3.1.bn2.running_mean"):
        assert torch.equal(trained[f"net.{key}"], original[key]), key
    assert not torch.equal(trained["net.layer4.1.conv2.weight"], original["layer4.1.conv2.weight"])
    # predict brings new photos to the stored 32x32, then resizes them as training did.
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(3):
        Image.new("RGB", (50, 40), (index * 80, 100, 200)).save(photos / f"{index}.png")
    run_module("predict", [f"checkpoint={run.data.tags['checkpoint_dir']}/best.pt",
                           f"inputs={photos}"], store, cifar_root, tmp_path)  # fmt: skip
    rows = next(tmp_path.rglob("predictions.csv")).read_text().splitlines()
    assert len(rows) == 4 and all(row.split(",")[1] in CIFAR_CLASSES for row in rows[1:])


def test_missing_weights_without_network_is_a_clear_error_not_a_hang(
    store, shared_data, cifar_root, tmp_path
):
    result = run_module(
        "train",
        ["experiment=cifar10_resnet18", f"paths.data_dir={cifar_root}", "dataset.val_size=20",
         "trainer.max_epochs=1"],
        store, shared_data, tmp_path, expect_success=False, timeout=120,
        # No cache, and a proxy on a closed port: as on a machine without internet.
        extra_environment={"TORCH_HOME": str(tmp_path / "torch"),
                           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "the ResNet18 weights IMAGENET1K_V1 are not cached at" in result.output
    assert str(tmp_path / "torch") in result.output
    assert "model.weights=/path/to/resnet18.pth" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_a_cnn_starts_from_another_runs_features(train, store, tmp_path):
    source = ["dataset.train_subset=500", "dataset.val_size=500", "dataset.test_subset=500",
              "trainer.max_epochs=1", "logger.log_model=false"]  # fmt: skip
    train("experiment=fashion_cnn", "name=transfer_source", *source)
    source_run = store.only_run("transfer_source")
    train("experiment=mnist_transfer", "name=transfer_target", *source,
          f"model.weights={source_run.info.run_id}", "model.freeze=backbone")  # fmt: skip
    target_run = store.only_run("transfer_target")
    source_state = torch.load(f"{source_run.data.tags['checkpoint_dir']}/best.pt",
                              weights_only=True)["model"]  # fmt: skip
    target_state = torch.load(f"{target_run.data.tags['checkpoint_dir']}/best.pt",
                              weights_only=True)["model"]  # fmt: skip
    features = [key for key in source_state if key.startswith("features.")]
    assert features and all(torch.equal(source_state[k], target_state[k]) for k in features)
    assert not torch.equal(source_state["head.3.weight"], target_state["head.3.weight"])
    wrong = train("experiment=mnist_transfer", "model.channels=[8,16,32]", *source,
                  f"model.weights={source_run.info.run_id}", expect_success=False)  # fmt: skip
    assert "was trained with another architecture" in wrong.output
