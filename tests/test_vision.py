"""MNIST and Fashion-MNIST: the batched pipeline, both CNNs through the entry point on
subsets of the real files, the image figures, and evaluate/predict on a saved run."""

from __future__ import annotations

import csv

import pytest
import torch
from PIL import Image, ImageOps

from ml_experiments.data.augment import (
    AugmentSettings,
    random_affine,
    random_crop,
    random_erasing,
    random_flip,
)
from ml_experiments.data.vision import load_torchvision_images, prepare_images
from ml_experiments.errors import DataError

from .conftest import run_module

SMALL = ["dataset.train_subset=600", "dataset.val_size=200", "dataset.test_subset=300"]
IMAGE_FIGURES = {
    "figures/confusion_matrix.png",
    "figures/confidently_wrong.png",
    "figures/learning_curves.png",
    "figures/per_class_accuracy.png",
    "figures/test_predictions.png",
}


def ramp_images(count: int = 6) -> torch.Tensor:
    """Images whose every pixel is distinct, so any movement is visible."""
    return torch.arange(count * 4 * 5, dtype=torch.float32).reshape(count, 1, 4, 5) / 200


# --- the pipeline on small tensors ------------------------------------------------------


def test_crop_shifts_content_within_the_padding():
    images = ramp_images()
    torch.manual_seed(0)
    cropped = random_crop(images, padding=1)
    assert cropped.shape == images.shape
    for original, shifted in zip(images, cropped, strict=True):
        matches = [
            (dy, dx)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if torch.equal(_shift(original, dy, dx), shifted)
        ]
        assert matches, "every crop is the image moved by at most the padding"


def _shift(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1))
    return padded[:, 1 + dy : 1 + dy + image.shape[1], 1 + dx : 1 + dx + image.shape[2]]


def test_flip_mirrors_some_images_and_leaves_the_others():
    images = ramp_images(32)
    torch.manual_seed(0)
    flipped = random_flip(images)
    mirrored = [torch.equal(a.flip(-1), b) for a, b in zip(images, flipped, strict=True)]
    unchanged = [torch.equal(a, b) for a, b in zip(images, flipped, strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 4 < sum(mirrored) < 28


def test_erasing_blanks_a_rectangle_and_affine_keeps_shape_and_range():
    images = torch.ones(16, 1, 28, 28)
    torch.manual_seed(0)
    erased = random_erasing(images, probability=1.0)
    blank = (erased == 0).flatten(1).sum(1)
    assert (blank > 0).all() and (blank < 28 * 28 * 0.25).all()
    turned = random_affine(images, degrees=15, scale=0.1)
    assert turned.shape == images.shape and 0 <= turned.min() and turned.max() <= 1


def test_augmentation_only_in_training_and_repeatable_under_a_seed():
    pixels = (torch.rand(8, 1, 28, 28) * 255).to(torch.uint8)
    settings = AugmentSettings(crop_padding=2, flip=True, erasing=0.5, rotate_degrees=10)
    assert torch.equal(prepare_images(pixels, False, settings), pixels.float() / 255)
    outputs = []
    for _ in range(2):
        torch.manual_seed(5)
        outputs.append(prepare_images(pixels, True, settings))
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], pixels.float() / 255)
    assert 0 <= outputs[0].min() and outputs[0].max() <= 1


def test_real_mnist_loads_with_a_seeded_validation_split(shared_data):
    options = dict(
        name="mnist",
        source="mnist",
        root=str(shared_data),
        download=False,
        val_size=5000,
        train_subset=None,
        test_subset=None,
        resize=None,
        augment={},
    )
    data = load_torchvision_images(**options, seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (55000, 5000, 10000)
    assert data.train.x.dtype == torch.uint8 and data.meta.input_shape == (1, 28, 28)
    assert data.meta.class_names[:3] == ["0", "1", "2"]
    assert 0.12 < data.meta.channel_mean[0] < 0.14  # MNIST's well-known mean, 0.1307
    again = load_torchvision_images(**options, seed=0)
    assert torch.equal(data.val.y, again.val.y)
    other = load_torchvision_images(**options, seed=1)
    assert not torch.equal(data.val.y, other.val.y)


def test_missing_image_files_say_where_they_were_expected(tmp_path):
    with pytest.raises(DataError, match=f"FashionMNIST not found in {tmp_path}/FashionMNIST/raw"):
        load_torchvision_images(
            name="f",
            source="fashion_mnist",
            root=str(tmp_path),
            download=False,
            val_size=10,
            train_subset=None,
            test_subset=None,
            resize=None,
            augment={},
            seed=0,
        )


# --- through the entry point --------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "model"),
    [
        ("mnist", "simple_cnn"),
        ("mnist", "deep_cnn"),
        ("fashion_mnist", "simple_cnn"),
        ("fashion_mnist", "deep_cnn"),
    ],
)
def test_both_models_train_on_both_datasets(train, store, dataset, model):
    name = f"vision_{dataset}_{model}"
    train(
        f"name={name}",
        f"dataset={dataset}",
        f"model={model}",
        "trainer.max_epochs=3",
        "trainer.batch_size=32",
        "logger.log_model=false",
        *SMALL,
    )
    run = store.only_run(name)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test/acc"] > 0.3  # 600 images, 57 steps: far above chance (0.1)
    figures = {item.path for item in store.client().list_artifacts(run.info.run_id, "figures")}
    assert figures == IMAGE_FIGURES


@pytest.fixture(scope="module")
def mnist_run(store, shared_data, tmp_path_factory):
    """One MNIST model trained well enough to predict real digits, shared by the tests below."""
    outputs = tmp_path_factory.mktemp("mnist_run")
    run_module(
        "train",
        [
            "experiment=mnist_cnn",
            "name=vision_saved",
            "trainer.max_epochs=2",
            "dataset.train_subset=6000",
            "dataset.val_size=500",
            "dataset.test_subset=1000",
        ],
        store,
        shared_data,
        outputs,
    )
    run = store.only_run("vision_saved")
    return run, outputs


def test_evaluate_reloads_the_run_and_reproduces_its_test_accuracy(
    store, shared_data, mnist_run, tmp_path
):
    run, _ = mnist_run
    result = run_module("evaluate", [f"run_id={run.info.run_id}"], store, shared_data, tmp_path)
    accuracy = float(result.output.split("test/acc")[1].split()[0])
    assert accuracy == pytest.approx(run.data.metrics["test/acc"], abs=1e-4)


def test_evaluate_from_the_best_checkpoint(store, shared_data, mnist_run, tmp_path):
    run, _ = mnist_run
    best = f"{run.data.tags['checkpoint_dir']}/best.pt"
    result = run_module("evaluate", [f"checkpoint={best}"], store, shared_data, tmp_path)
    accuracy = float(result.output.split("test/acc")[1].split()[0])
    assert accuracy == pytest.approx(run.data.metrics["test/acc"], abs=1e-4)


def test_predict_reads_png_and_jpeg_of_any_size_and_polarity(
    store, shared_data, mnist_run, tmp_path
):
    import torchvision

    run, _ = mnist_run
    folder = tmp_path / "digits"
    folder.mkdir()
    test_set = torchvision.datasets.MNIST(str(shared_data), train=False)
    labels = {}
    for index in range(6):
        image, label = test_set[index]
        image.resize((64, 64)).save(folder / f"light_on_dark_{index}.png")
        ImageOps.invert(image).convert("RGB").save(folder / f"dark_on_light_{index}.jpg")
        labels[f"light_on_dark_{index}.png"] = labels[f"dark_on_light_{index}.jpg"] = label
    result = run_module(
        "predict", [f"run_id={run.info.run_id}", f"inputs={folder}"], store, shared_data, tmp_path
    )
    rows = list(csv.DictReader(next(tmp_path.rglob("predictions.csv")).open()))
    assert len(rows) == 12 and "top" in rows[0]
    correct = sum(row["prediction"] == str(labels[row["input"].rsplit("/", 1)[1]]) for row in rows)
    assert correct >= 10, result.output


def test_load_errors_are_clear(train, store, shared_data, mnist_run, tmp_path):
    run, _ = mnist_run
    missing = run_module(
        "predict",
        [f"run_id={run.info.run_id}", "inputs=/no/such/folder"],
        store,
        shared_data,
        tmp_path,
        expect_success=False,
    )
    assert "inputs=/no/such/folder: no such file or folder" in missing.output
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    unreadable = run_module(
        "predict",
        [f"run_id={run.info.run_id}", f"inputs={broken}"],
        store,
        shared_data,
        tmp_path,
        expect_success=False,
    )
    assert f"cannot read {broken} as an image" in unreadable.output
    train("name=vision_no_model", "debug=fast")
    bare = store.only_run("vision_no_model")
    no_model = run_module(
        "evaluate",
        [f"run_id={bare.info.run_id}"],
        store,
        shared_data,
        tmp_path,
        expect_success=False,
    )
    assert f"run {bare.info.run_id} has no logged model" in no_model.output
    for output in (missing.output, unreadable.output, no_model.output):
        assert "Traceback" not in output


def test_invert_modes_and_colour_images(tmp_path):
    from ml_experiments.data.image_files import load_image

    grey = tmp_path / "dark_on_light.png"
    page = Image.new("L", (28, 28), 255)
    page.paste(0, (10, 4, 18, 24))  # a dark stroke on white paper
    page.save(grey)
    shape = (1, 28, 28)
    assert load_image(grey, shape, "never")[0, 0, 0] == 1.0
    assert load_image(grey, shape, "always")[0, 0, 0] == 0.0
    assert load_image(grey, shape, "auto")[0, 0, 0] == 0.0  # guessed: light border
    photo = tmp_path / "sky.png"
    Image.new("RGB", (32, 32), (200, 220, 255)).save(photo)
    colour = load_image(photo, (3, 32, 32), "auto")
    assert colour.shape == (3, 32, 32) and colour[2, 0, 0] == 1.0  # a photo is not inverted
