"""Both CNNs on subsets of the real MNIST and Fashion-MNIST files through the entry point,
the image figures, and evaluate and predict on a saved run."""

from __future__ import annotations

import csv

import pytest
from PIL import ImageOps

from tests.helpers.data_files import write_image_folder
from tests.helpers.running import run_module

SMALL = ["dataset.train_subset=600", "dataset.val_size=200", "dataset.test_subset=300"]


IMAGE_FIGURES = {
    "figures/confusion_matrix.png",
    "figures/confidently_wrong.png",
    "figures/learning_curves.png",
    "figures/per_class_accuracy.png",
    "figures/test_predictions.png",
}


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
    (folder / "notes.png").write_text("not an image: skipped, the others still predicted")
    result = run_module(
        "predict", [f"run_id={run.info.run_id}", f"inputs={folder}"], store, shared_data, tmp_path
    )
    rows = list(csv.DictReader(next(tmp_path.rglob("predictions.csv")).open()))
    assert len(rows) == 12 and "top" in rows[0]
    correct = sum(row["prediction"] == str(labels[row["input"].rsplit("/", 1)[1]]) for row in rows)
    assert correct >= 10, result.output
    assert f"skipped: cannot read {folder / 'notes.png'} as an image" in result.output


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
    assert "none of the 1 files could be read as an image" in unreadable.output
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


def test_a_users_image_folder_trains_and_predicts_through_the_entry_point(
    train, store, shared_data, tmp_path
):
    root = write_image_folder(tmp_path / "photos", per_class=20)
    train(
        "dataset=image_folder",
        f"dataset.root={root}",
        "dataset.size=16",
        "model=simple_cnn",
        "model.channels=[8]",
        "trainer.max_epochs=8",
        "trainer.batch_size=8",
        "name=image_folder_run",
    )
    run = store.only_run("image_folder_run")
    assert run.info.status == "FINISHED"
    assert run.data.params["data/unreadable_files_skipped"] == "2"
    assert run.data.metrics["test/acc"] >= 0.9  # light and dark squares
    figures = {item.path for item in store.client().list_artifacts(run.info.run_id, "figures")}
    assert "figures/test_predictions.png" in figures
    result = run_module(
        "predict", [f"run_id={run.info.run_id}", f"inputs={root / 'dark'}"], store, shared_data,
        tmp_path,
    )  # fmt: skip
    rows = list(csv.DictReader(next(tmp_path.rglob("predictions.csv")).open()))
    assert sum(row["prediction"] == "dark" for row in rows) >= 18, result.output
    assert "skipped: cannot read" in result.output


def test_fashion_cnn_fast_trains_on_the_real_files_and_predicts_raw_images(
    train, store, shared_data, tmp_path
):
    import torchvision

    train("experiment=fashion_cnn_fast", "trainer.max_epochs=2", *SMALL)
    run = store.only_run("fashion_cnn_fast")
    assert run.data.params["model.head_grid"] == "7"
    assert run.data.params["model.convs_per_stage"] == "1"
    assert run.data.metrics["test/acc"] > 0.5  # 600 images, 2 epochs: far above chance (0.1)
    folder = tmp_path / "clothes"
    folder.mkdir()
    test_set = torchvision.datasets.FashionMNIST(str(shared_data), train=False)
    for index in range(4):
        test_set[index][0].save(folder / f"item_{index}.png")
    run_module("predict", [f"run_id={run.info.run_id}", f"inputs={folder}"], store, shared_data,
               tmp_path)  # fmt: skip
    rows = list(csv.DictReader(next(tmp_path.rglob("predictions.csv")).open()))
    assert len(rows) == 4
    assert {row["prediction"] for row in rows} <= set(test_set.classes)
