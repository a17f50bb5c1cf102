"""Every option of every config group composes and builds; schemas and rules reject bad
input; the paths and the store follow the environment."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from ml_experiments.config import register_configs
from ml_experiments.config.build import build
from ml_experiments.config.rules import check_config
from ml_experiments.config.schemas import Modality
from ml_experiments.data import DatasetMeta
from ml_experiments.engine import runtime
from ml_experiments.engine.schedules import build_schedule
from ml_experiments.errors import ConfigError
from ml_experiments.models.factory import build_for_data
from tests.helpers.data_files import write_image_folder
from tests.helpers.running import PROJECT_ROOT

CONF = PROJECT_ROOT / "conf"


IMAGE_MODELS = {"simple_cnn", "deep_cnn"}


TEXT_DATASETS = {"liar", "imdb", "fake_news", "text_csv"}


# Not in ../shared: tests build CIFAR-10 and Tiny ImageNet from files they write.
EXTERNAL_DATASETS = {"cifar10", "tiny_imagenet"}


# They need a tokenizer fitted on text: tests/test_lstm.py and tests/test_bert.py.
TOKENIZED_MODELS = {"lstm", "bert"}


register_configs()


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def compose_config(overrides: list[str], data_dir=None, tmp_path=None):
    base = ["paths.run_dir=/tmp/run"]
    if data_dir is not None:
        base.append(f"paths.data_dir={data_dir}")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=base + overrides)


# Their data or weights are downloaded, and not on this machine: they are composed and
# checked here; tests/test_transfer.py and tests/test_bert.py run their code on fixtures.
NEEDS_DOWNLOAD = {
    "cifar10_resnet18",
    "cifar10_resnet18_scratch",
    "imdb_bert",
    "tiny_imagenet_resnet18",
}


def test_every_group_has_options():
    for group in ("dataset", "model", "optimizer", "scheduler", "device", "experiment", "debug"):
        assert options(group), f"conf/{group} has no options"


@pytest.mark.parametrize(
    "option", sorted(set(options("dataset")) - TEXT_DATASETS - EXTERNAL_DATASETS)
)
def test_dataset_option_builds(option, shared_data, tmp_path):
    overrides = [f"dataset={option}"]
    if option == "csv":
        csv = tmp_path / "table.csv"
        rows = "1,red,10\n2,blue,20\n3,red,30\n4,,41\n5,blue,52\n" * 4
        csv.write_text("size,colour,price\n" + rows)
        overrides += [f"dataset.path={csv}", "dataset.target=price"]
    if option == "image_folder":
        overrides.append(f"dataset.root={write_image_folder(tmp_path / 'images')}")
    cfg = compose_config(overrides, data_dir=shared_data)
    check_config(cfg)
    data = build(cfg.dataset, drop=(), seed=cfg.seed)
    total = len(data.train) + len(data.val) + len(data.test)
    assert total == data.summary["rows_used"]
    assert data.train.x.shape[1:] == data.meta.input_shape
    assert data.meta.name == option


@pytest.mark.parametrize("option", sorted(TEXT_DATASETS))
def test_text_dataset_option_builds(option, shared_data, tmp_path):
    overrides = [f"dataset={option}"]
    if option in ("fake_news", "text_csv"):
        table = tmp_path / "news.csv"
        rows = "".join(
            f"{i},Title {i},Author,Body number {i} of the story,{i % 2}\n" for i in range(40)
        )
        table.write_text("id,title,author,text,label\n" + rows)
        overrides.append(f"dataset.path={table}")
        if option == "text_csv":
            overrides += ["dataset.text_columns=[title,text]", "dataset.label_column=label"]
    if option == "imdb":
        overrides += ["dataset.train_subset=200", "dataset.test_subset=50"]
    cfg = compose_config(overrides, data_dir=shared_data)
    check_config(cfg)
    data = build(cfg.dataset, drop=(), seed=cfg.seed)
    assert data.meta.name == option
    assert min(len(data.train), len(data.val), len(data.test)) > 0
    assert all(isinstance(text, str) and text for text in data.train.texts)
    assert set(data.train.y.tolist()) <= set(range(data.meta.num_classes))


@pytest.mark.parametrize("option", sorted(set(options("model")) - TOKENIZED_MODELS))
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_model_option_builds_for_each_task(option, task):
    cfg = compose_config([f"model={option}"])
    classes = ["a", "b", "c"] if task == "classification" else None
    shape = {"resnet18": (3, 32, 32)}.get(option, (1, 28, 28) if option in IMAGE_MODELS else (7,))
    meta = DatasetMeta(
        name="toy",
        task=task,
        input_shape=shape,
        class_names=classes,
        channel_mean=[0.5] * shape[0],
        channel_std=[0.25] * shape[0],
        modality=Modality.image if len(shape) == 3 else Modality.tabular,
    )
    model = build(cfg.model, meta=meta)
    if isinstance(model, torch.nn.Module):
        assert model(torch.zeros(4, *shape)).shape == (4, meta.output_size)
    else:
        assert hasattr(model, "fit") and hasattr(model, "predict")


@pytest.mark.parametrize("option", sorted(IMAGE_MODELS))
def test_image_models_refuse_tabular_data(option):
    cfg = compose_config([f"model={option}"])
    meta = DatasetMeta(
        name="boston", task="regression", input_shape=(13,), modality=Modality.tabular
    )
    with pytest.raises(ConfigError, match=f"model={option} needs images"):
        build(cfg.model, meta=meta)


@pytest.mark.parametrize("optimizer", options("optimizer"))
@pytest.mark.parametrize("scheduler", options("scheduler"))
def test_optimizer_and_scheduler_options_build_and_step(optimizer, scheduler):
    cfg = compose_config([f"optimizer={optimizer}", f"scheduler={scheduler}"])
    check_config(cfg)
    model = torch.nn.Linear(3, 1)
    built = build(cfg.optimizer, params=model.parameters())
    assert isinstance(built, torch.optim.Optimizer)
    initial_lr = cfg.optimizer.lr
    schedule = build_schedule(cfg.scheduler, built, max_epochs=12, steps_per_epoch=4)
    seen = []
    for _ in range(12):
        for _ in range(4):
            seen.append(built.param_groups[0]["lr"])
            built.step()
            schedule.after_batch()
        schedule.after_epoch(monitored_value=1.0)  # a flat metric: plateau reduces the lr
    seen.append(built.param_groups[0]["lr"])
    assert all(0 <= lr <= initial_lr * 1.000001 for lr in seen), seen
    if scheduler == "none":
        assert seen == [initial_lr] * len(seen)
    else:
        assert len(set(seen)) > 1, f"{scheduler} never changed the learning rate"


@pytest.mark.parametrize("device", options("device"))
def test_device_options(device):
    cfg = compose_config([f"device={device}"])
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if available.get(device, True):
        assert isinstance(runtime.select_device(cfg.device.type.value), torch.device)
    else:
        with pytest.raises(ConfigError, match=f"no {device.upper()} device"):
            runtime.select_device(cfg.device.type.value)


@pytest.mark.parametrize("experiment", options("experiment"))
def test_experiment_composes_and_passes_checks(experiment, shared_data, tmp_path):
    overrides = [f"experiment={experiment}"]
    if experiment.startswith("fake_news"):  # the Kaggle file is not in the shared data
        table = tmp_path / "train.csv"
        rows = "".join(f"{i},Title {i},Author,Story {i},{i % 2}\n" for i in range(40))
        table.write_text("id,title,author,text,label\n" + rows)
        overrides += [f"dataset.path={table}"]
    if experiment.startswith("imdb"):
        overrides += ["dataset.train_subset=200", "dataset.test_subset=50"]
    cfg = compose_config(overrides, data_dir=shared_data)
    check_config(cfg)
    assert cfg.name == experiment
    if experiment in NEEDS_DOWNLOAD:
        return
    data = build(cfg.dataset, drop=(), seed=cfg.seed)
    assert build_for_data(cfg.model, data)[1] is not None


@pytest.mark.parametrize("debug", options("debug"))
def test_debug_option_composes(debug):
    cfg = compose_config([f"debug={debug}"])
    assert cfg.trainer.max_epochs <= 3
    assert cfg.logger.log_model is False


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigCompositionException) as raised:
        compose_config(["trainer.max_epochs=abc"])
    assert isinstance(raised.value.__cause__, ValidationError)
    assert "trainer.max_epochs" in str(raised.value.__cause__)


def test_unknown_key_names_the_key():
    with pytest.raises(ConfigCompositionException) as raised:
        compose_config(["optimizer.momentun=0.9"])
    assert isinstance(raised.value.__cause__, ConfigKeyError | ConfigAttributeError)
    assert "full_key: optimizer.momentun" in str(raised.value.__cause__)


def test_appended_unknown_key_is_caught_at_start():
    cfg = compose_config(["+optimizer.momentun=0.9", "+trainer.early_stopping.patient=3"])
    with pytest.raises(ConfigError) as raised:
        check_config(cfg)
    assert "optimizer.momentun is not a key of AdamConfig" in str(raised.value)
    assert "trainer.early_stopping.patient is not a key of EarlyStoppingConfig" in str(raised.value)


def test_unknown_option_lists_the_available_ones():
    with pytest.raises(Exception, match=r"(?s)Could not find 'optimizer/lion'.*adamw.*sgd"):
        compose_config(["optimizer=lion"])


def test_invalid_enum_value_is_rejected():
    with pytest.raises(ConfigCompositionException) as raised:
        compose_config(["device.type=tpu"])
    assert "device.type" in str(raised.value.__cause__)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["scheduler=onecycle", "scheduler.warmup_epochs=2"], "does not combine with OneCycleLR"),
        (["scheduler=onecycle", "scheduler.interval=epoch"], "steps every batch"),
        (["scheduler=onecycle", "scheduler.epochs=5", "trainer.max_epochs=10"], "would end"),
        (["scheduler=cosine", "scheduler.warmup_epochs=20", "trainer.max_epochs=20"], "below"),
        (["optimizer=sgd", "optimizer.nesterov=true", "optimizer.momentum=0"], "nesterov"),
        (["optimizer.lr=0"], "optimizer.lr must be positive"),
        (["dataset.val_fraction=0.6", "dataset.test_fraction=0.5"], "sum to less than 1"),
        (["trainer.batch_size=0"], "trainer.batch_size must be at least 1"),
        (["trainer.label_smoothing=1.0"], "label_smoothing"),
        (["trainer.min_epoch_examples=0"], "trainer.min_epoch_examples must be null or at least 1"),
        (["scheduler=step", "scheduler.step_size=0"], "scheduler.step_size must be at least 1"),
        (["device.threads=0"], "device.threads must be null or at least 1"),
        (["dataset=csv"], "these keys need a value: dataset.path, dataset.target"),
    ],
)
def test_cross_field_rules(overrides, message):
    cfg = compose_config(overrides)
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)


def test_all_broken_rules_are_reported_together():
    cfg = compose_config(["trainer.batch_size=0", "optimizer.lr=-1"])
    with pytest.raises(ConfigError) as raised:
        check_config(cfg)
    assert "batch_size" in str(raised.value) and "optimizer.lr" in str(raised.value)


def test_tracking_uri_defaults_to_sqlite_under_outputs(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = compose_config([])
    assert cfg.logger.tracking_uri == f"sqlite:///{PROJECT_ROOT}/outputs/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert compose_config([]).logger.tracking_uri == "http://127.0.0.1:5000"


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ML_EXPERIMENTS_DATA_DIR", str(tmp_path))
    cfg = compose_config([])
    assert OmegaConf.select(cfg, "paths.data_dir") == str(tmp_path)
