"""Transfer through the entry point: ResNet18 fine-tuned on CIFAR-10 files, the no-network
error for missing weights, and a CNN started from another run's features."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.data_files import CIFAR_CLASSES, write_tiny_imagenet
from tests.helpers.running import run_module


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
        "dataset.verify_checksums=false",  # the tests' own small batches
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


def test_resnet18_fine_tunes_on_tiny_imagenet_files_and_predicts_class_names(
    train, store, resnet_file, tmp_path
):
    root = write_tiny_imagenet(tmp_path / "data" / "tiny-imagenet-200")
    train(
        "experiment=tiny_imagenet_resnet18",
        f"paths.data_dir={root.parent}",
        f"model.weights={resnet_file}",
        "dataset.resize=72",
        "trainer.max_epochs=1",
        "trainer.batch_size=8",
        "logger.log_model=false",
    )
    run = store.only_run("tiny_imagenet_resnet18")
    assert run.info.status == "FINISHED"
    assert run.data.params["data/input_shape"] == "[3, 72, 72]"
    assert run.data.params["data/test_rows"] == "12"  # val/'s labelled images
    photo = next((root / "val" / "images").iterdir())
    run_module("predict", [f"checkpoint={run.data.tags['checkpoint_dir']}/best.pt",
                           f"inputs={photo}"], store, root.parent, tmp_path)  # fmt: skip
    rows = next(tmp_path.rglob("predictions.csv")).read_text().splitlines()
    names = ("goldfish", "European fire salamander", "Egyptian cat")
    assert len(rows) == 2 and rows[1].split(",")[1] in names


def test_missing_weights_without_network_is_a_clear_error_not_a_hang(
    store, shared_data, cifar_root, tmp_path
):
    result = run_module(
        "train",
        ["experiment=cifar10_resnet18", f"paths.data_dir={cifar_root}", "dataset.val_size=20",
         "dataset.verify_checksums=false", "trainer.max_epochs=1"],
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
          f"model.weights={source_run.info.run_id}", "model.freeze=backbone",
          "trainer.min_epoch_examples=null")  # fmt: skip
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
