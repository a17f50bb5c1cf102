"""Structured-config schemas: one dataclass per config option, one enum per closed choice.

Every YAML option in `conf/` names its schema in its defaults list
(`- /schemas/<group>/<option>@_here_`; `store.register_configs` puts them there), so a
wrong type or an unknown key fails while Hydra composes the config, with the full key
in the message.

This module is on the start-up path of `--help` and `--cfg job`: it imports
nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from omegaconf import MISSING


class Task(StrEnum):
    """What a data set asks of a model. A str, so it is stored and logged as plain text."""

    regression = "regression"
    classification = "classification"


class Modality(StrEnum):
    """The kind of input a data set gives, which decides how batches, figures and
    predictions treat it."""

    tabular = "tabular"  # flat feature vectors
    image = "image"  # (channels, height, width) pixels in [0, 1]
    text = "text"  # raw strings, or token ids once a tokenizer has read them


class DeviceType(Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class Interval(Enum):
    epoch = "epoch"
    step = "step"


class Activation(Enum):
    relu = "relu"
    gelu = "gelu"
    tanh = "tanh"


class InvertMode(Enum):
    auto = "auto"  # invert images whose border is mostly light
    always = "always"
    never = "never"


class Vectorizer(Enum):
    tfidf = "tfidf"
    count = "count"  # bag of words
    naive_bayes = "naive_bayes"  # term presence scaled by naive-Bayes log-count ratios


class TextClassifier(Enum):
    logreg = "logreg"
    linear_svm = "linear_svm"


class RecurrentCell(Enum):
    lstm = "lstm"
    gru = "gru"


class Pooling(Enum):
    last = "last"  # the final hidden state of each direction
    mean = "mean"  # over the words of the text
    max = "max"


class Freeze(Enum):
    none = "none"  # fine-tune every layer
    backbone = "backbone"  # train the new head only: a linear probe
    gradual = "gradual"  # resnet18: the head first, then one stage more every unfreeze_every epochs


class ClassWeight(Enum):
    balanced = "balanced"  # each class weighs n / (classes * its count), as in scikit-learn


class NumericImputer(Enum):
    mean = "mean"
    median = "median"
    most_frequent = "most_frequent"
    drop = "drop"


# --- datasets ---------------------------------------------------------------


@dataclass
class SplitConfig:
    """Fractions of the data held out for validation and test (seeded by `seed`)."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15


@dataclass
class DigitsDatasetConfig(SplitConfig):
    _target_: str = "ml_experiments.data.tabular.load_digits"
    name: str = "digits"


@dataclass
class CsvDatasetConfig(SplitConfig):
    _target_: str = "ml_experiments.data.tabular.load_csv"
    name: str = "csv"
    path: str = MISSING
    target: str = MISSING
    task: Task = Task.regression
    drop_columns: list[str] = field(default_factory=list)
    numeric_imputer: NumericImputer = NumericImputer.median
    separator: str = ","  # '\t' for a tab
    # Cells that mean "missing" besides empty, ?, -, NA, n/a, NaN, null (always gaps).
    na_values: list[str] = field(default_factory=list)
    encoding: str = "utf-8"  # of the file, e.g. latin-1 or cp1252 for old exports
    # How the file writes numbers: 1,234.5 needs thousands=','; 1.234,5 thousands='.' and
    # decimal=','.
    thousands: str | None = None
    decimal: str = "."
    # Columns one-hot encoded as categories even when they hold numbers (codes, 12 kg).
    categorical_columns: list[str] = field(default_factory=list)


@dataclass
class BostonDatasetConfig(CsvDatasetConfig):
    _target_: str = "ml_experiments.data.tabular.load_boston"
    name: str = "boston"
    target: str = "MEDV"
    download: bool = True


@dataclass
class AugmentConfig:
    """Training-time augmentation, applied to whole batches on the training device."""

    crop_padding: int = 0
    flip: bool = False
    erasing: float = 0.0  # probability per image
    rotate_degrees: float = 0.0
    scale: float = 0.0


@dataclass
class ImageDatasetConfig:
    _target_: str = "ml_experiments.data.vision.load_torchvision_images"
    name: str = MISSING
    source: str = MISSING  # which torchvision set: mnist, fashion_mnist or cifar10
    root: str = MISSING
    download: bool = True
    val_size: int = 5000  # images held out of the training set for validation
    train_subset: int | None = None  # train on this many images only (quick runs)
    test_subset: int | None = None
    # Resize every batch to this square size on the device (e.g. 32 -> 96 for ImageNet
    # features); the data stays in memory at its own size.
    resize: int | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # cifar10 only: check each batch file's MD5 against the official sums (torchvision's);
    # false for one's own files in CIFAR-10's format. MNIST's files are checked by size.
    verify_checksums: bool = True


@dataclass
class ImageFolderDatasetConfig(SplitConfig):
    """A user's own images, one folder per class (see data/image_folder.py)."""

    _target_: str = "ml_experiments.data.image_folder.load_image_folder"
    name: str = "image_folder"
    root: str = MISSING  # the folder of class folders, or of train/ (val/) (test/) folders
    size: int = 64  # every image is resized to size x size pixels
    channels: int = 3  # 1: grey, 3: RGB
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class TinyImagenetDatasetConfig:
    """Tiny ImageNet's released folder (see data/tiny_imagenet.py)."""

    _target_: str = "ml_experiments.data.tiny_imagenet.load_tiny_imagenet"
    name: str = "tiny_imagenet"
    root: str = MISSING  # the tiny-imagenet-200 folder
    val_fraction: float = 0.1  # of train/'s 100,000 images; val/ is the test split
    train_subset: int | None = None  # a seeded sample, for quick runs
    test_subset: int | None = None
    resize: int | None = None  # enlarge each batch on the device (64 -> 128 for ImageNet nets)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class LiarDatasetConfig:
    _target_: str = "ml_experiments.data.text.load_liar"
    name: str = "liar"
    root: str = MISSING  # the folder of train.tsv, valid.tsv, test.tsv
    # Joined into one text; model=fields_logreg reads each apart.
    fields: list[str] = field(default_factory=lambda: ["statement"])
    binary: bool = False  # six labels, or false (the lower three) vs true


@dataclass
class ImdbDatasetConfig:
    _target_: str = "ml_experiments.data.text.load_imdb"
    name: str = "imdb"
    path: str = MISSING  # aclImdb_v1.tar.gz, or the aclImdb folder
    val_fraction: float = 0.1  # of the 25,000 training reviews
    train_subset: int | None = None  # a seeded sample, for quick runs
    test_subset: int | None = None


@dataclass
class TextCsvDatasetConfig(SplitConfig):
    _target_: str = "ml_experiments.data.text.load_text_csv"
    name: str = "text_csv"
    path: str = MISSING
    text_columns: list[str] = MISSING  # joined with newlines, missing ones skipped
    label_column: str = MISSING
    labels: list[str] | None = None  # the labels in class order; others are an error
    label_names: list[str] | None = None  # display names for `labels`
    separator: str = ","
    drop_duplicates: bool = True  # repeated texts are dropped (and counted)


# --- models -----------------------------------------------------------------


# Adam's learning rate for these models unless optimizer.lr is given (conf/optimizer/adam.yaml):
# the default trainer's 20 epochs are a few hundred steps on a small table, too few at 1e-3
# to converge (Boston through dataset=csv: linear test RMSE 8.4 at 1e-3, 5.5 at 1e-2, least
# squares 5.2), while 1e-2 stalls a CNN without batch norm.
TABULAR_DEFAULT_LR = 0.01


@dataclass
class LinearModelConfig:
    _target_: str = "ml_experiments.models.tabular.LinearModel"
    name: str = "linear"
    default_lr: float = TABULAR_DEFAULT_LR


@dataclass
class MlpModelConfig:
    _target_: str = "ml_experiments.models.tabular.MLP"
    name: str = "mlp"
    default_lr: float = TABULAR_DEFAULT_LR
    hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    dropout: float = 0.1
    activation: Activation = Activation.relu
    batch_norm: bool = False


@dataclass
class FeatureTransferConfig:
    """The CNNs' transfer keys: start from the conv features of a checkpoint or run id."""

    weights: str | None = None
    freeze: Freeze = Freeze.none  # none or backbone (the features stay as loaded)


@dataclass
class SimpleCnnConfig(FeatureTransferConfig):
    _target_: str = "ml_experiments.models.cnn.SimpleCNN"
    name: str = "simple_cnn"
    channels: list[int] = field(default_factory=lambda: [32, 64])
    hidden: int = 128
    dropout: float = 0.25


@dataclass
class DeepCnnConfig(FeatureTransferConfig):
    _target_: str = "ml_experiments.models.cnn.DeepCNN"
    name: str = "deep_cnn"
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    convs_per_stage: int = 2
    batch_norm: bool = True
    dropout: float = 0.2
    # The head averages the last stage's maps over a head_grid x head_grid grid before its
    # linear layer: 1 is global average pooling; more keeps where in the image a feature is.
    head_grid: int = 1


@dataclass
class ResNet18Config:
    _target_: str = "ml_experiments.models.resnet.ResNet18Classifier"
    name: str = "resnet18"
    # torchvision weights by name (IMAGENET1K_V1, DEFAULT), a local state-dict file, or null.
    weights: str | None = "IMAGENET1K_V1"
    cifar_stem: bool = False  # 3x3 stride-1 first conv and no max-pool, for 32x32 images
    freeze: Freeze = Freeze.none
    unfreeze_every: int = 1  # epochs between stages, for freeze=gradual
    layer_lr_decay: float = 1.0  # lr multiplier per stage down from the head
    dropout: float = 0.0  # before the new head


# The candidates for a linear model's C: no single value suits every corpus (a few long
# documents need little regularisation; many short ones, more), so one is chosen per run.
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


@dataclass
class SklearnLinearModelConfig:
    _target_: str = "ml_experiments.models.sklearn_models.linear_baseline"
    name: str = "sklearn_linear"
    # Inverse regularisation strength, classification only. null: the value of C_grid
    # with the best macro-F1 on the validation split (logged as model.C_chosen).
    C: float | None = None
    C_grid: list[float] = field(default_factory=lambda: list(C_GRID))
    max_iter: int = 1000


@dataclass
class TextPreprocessConfig:
    """Cleaning applied to each raw text inside the model (so saved models take raw text)."""

    lowercase: bool = True
    strip_html: bool = True
    strip_urls: bool = True


@dataclass
class TextLinearModelConfig:
    _target_: str = "ml_experiments.models.text.text_classifier"
    name: str = "tfidf_logreg"
    vectorizer: Vectorizer = Vectorizer.tfidf
    ngram_max: int = 2  # words and word pairs
    # What a word is: scikit-learn's default, runs of 2 or more letters or digits.
    token_pattern: str = r"(?u)\b\w\w+\b"
    min_df: int = 2  # a term must appear in this many training texts
    max_features: int | None = None  # keep the most frequent terms only
    stop_words: str | None = None  # "english" drops scikit-learn's English stop words
    sublinear_tf: bool = True  # tf-idf only: 1 + log(count)
    classifier: TextClassifier = TextClassifier.logreg
    # Inverse regularisation strength. null: the value of C_grid with the best macro-F1
    # on the validation split (logged as model.C_chosen).
    C: float | None = None
    C_grid: list[float] = field(default_factory=lambda: list(C_GRID))
    class_weight: str | None = None  # "balanced" weighs classes by inverse frequency
    max_iter: int = 1000
    preprocess: TextPreprocessConfig = field(default_factory=TextPreprocessConfig)


@dataclass
class FieldsLinearModelConfig:
    """A linear model over each field of a record apart (LIAR's statement and metadata)."""

    _target_: str = "ml_experiments.models.fields.fields_classifier"
    name: str = "fields_logreg"
    text_field: str = "statement"  # TF-IDF of its words and word n-grams
    categories: list[str] = field(default_factory=list)  # one value each: one-hot
    lists: list[str] = field(default_factory=list)  # comma-separated labels
    phrases: list[str] = field(default_factory=list)  # short free text: TF-IDF
    field_weight: float = 0.5  # each field's features against the text's (1)
    ngram_max: int = 2  # of the text field
    min_df: int = 1  # a term of the text field must appear in this many training texts
    min_count: int = 2  # category values, labels and phrase words in fewer rows: left out
    sublinear_tf: bool = True
    # Inverse regularisation strength. null: the value of C_grid with the best macro-F1
    # on the validation split (logged as model.C_chosen).
    C: float | None = None
    C_grid: list[float] = field(default_factory=lambda: list(C_GRID))
    max_iter: int = 2000
    preprocess: TextPreprocessConfig = field(default_factory=TextPreprocessConfig)


@dataclass
class VocabularyConfig:
    """How the PyTorch text models turn raw text into token ids (fitted on train only)."""

    _target_: str = "ml_experiments.data.vocabulary.Vocabulary"
    lowercase: bool = True
    strip_html: bool = True
    strip_urls: bool = True
    # "english": scikit-learn's list. It holds "not" and "no", which sentiment needs.
    stop_words: str | None = None
    min_freq: int = 2  # rarer training words read as <unk>
    max_size: int | None = 30000  # the most frequent words, besides <pad> and <unk>
    max_length: int = 256  # words kept from the start of each text; shorter ones are padded


@dataclass
class RecurrentModelConfig:
    _target_: str = "ml_experiments.models.rnn.RecurrentClassifier"
    name: str = "lstm"
    cell: RecurrentCell = RecurrentCell.lstm
    embedding_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3  # on the embeddings, between layers and before the head
    pooling: Pooling = Pooling.mean
    packed: bool | None = None  # packed sequences; null: on CUDA only (slower on CPU)
    tokenizer: VocabularyConfig = field(default_factory=VocabularyConfig)


@dataclass
class PretrainedTokenizerConfig:
    _target_: str = "ml_experiments.models.bert.PretrainedTokenizer"
    pretrained: str = "${..pretrained}"  # the model's own tokenizer
    max_length: int = 256  # tokens kept from each text, [CLS] and [SEP] included
    keep_tail: int = 0  # of those, taken from the end of a long text (the rest from its start)


@dataclass
class BertModelConfig:
    _target_: str = "ml_experiments.models.bert.TransformerClassifier"
    name: str = "bert"
    # A Hugging Face hub id (bert-base-uncased, distilbert-base-uncased) or a local folder.
    pretrained: str = "bert-base-uncased"
    tokenizer: PretrainedTokenizerConfig = field(default_factory=PretrainedTokenizerConfig)


# --- optimizers -------------------------------------------------------------


@dataclass
class OptimizerConfig:
    _target_: str = MISSING
    _partial_: bool = True
    lr: float = 1e-3
    weight_decay: float = 0.0


@dataclass
class SgdConfig(OptimizerConfig):
    _target_: str = "torch.optim.SGD"
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    dampening: float = 0.0


@dataclass
class AdamConfig(OptimizerConfig):
    _target_: str = "torch.optim.Adam"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8


@dataclass
class AdamWConfig(AdamConfig):
    _target_: str = "torch.optim.AdamW"
    weight_decay: float = 0.01


# --- learning-rate schedulers -----------------------------------------------


@dataclass
class SchedulerConfig:
    """Keys every scheduler shares; they are read by the engine, not passed to torch.

    `_target_: null` means a constant learning rate (after the optional warmup).
    """

    _target_: str | None = None
    _partial_: bool = True
    interval: Interval = Interval.epoch
    warmup_epochs: float = 0  # fractions of an epoch need interval=step
    warmup_start_factor: float = 0.1


@dataclass
class StepSchedulerConfig(SchedulerConfig):
    _target_: str | None = "torch.optim.lr_scheduler.StepLR"
    step_size: int = 10
    gamma: float = 0.1


@dataclass
class LinearSchedulerConfig(SchedulerConfig):
    """Linear decay from the optimizer's lr to end_factor times it, over the updates left
    after warmup: with warmup, the schedule BERT was fine-tuned with."""

    _target_: str | None = "torch.optim.lr_scheduler.LinearLR"
    interval: Interval = Interval.step
    start_factor: float = 1.0
    end_factor: float = 0.0
    total_iters: int | None = None  # null: the updates left after warmup


@dataclass
class CosineSchedulerConfig(SchedulerConfig):
    _target_: str | None = "torch.optim.lr_scheduler.CosineAnnealingLR"
    T_max: int | None = None  # null: the epochs (or steps) left after warmup
    eta_min: float = 0.0


@dataclass
class OneCycleSchedulerConfig(SchedulerConfig):
    _target_: str | None = "torch.optim.lr_scheduler.OneCycleLR"
    interval: Interval = Interval.step
    max_lr: float | None = None  # null: each parameter group's lr
    epochs: int | None = None  # null: trainer.max_epochs
    steps_per_epoch: int | None = None  # null: optimizer steps per epoch of the training data
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4


@dataclass
class PlateauSchedulerConfig(SchedulerConfig):
    _target_: str | None = "torch.optim.lr_scheduler.ReduceLROnPlateau"
    factor: float = 0.1
    patience: int = 5
    threshold: float = 1e-4


# --- the fixed-shape groups -------------------------------------------------


@dataclass
class DeviceConfig:
    type: DeviceType = DeviceType.auto
    threads: int | None = None  # torch intra-op threads; null keeps torch's default


@dataclass
class EarlyStoppingConfig:
    enabled: bool = True
    patience: int = 10
    min_delta: float = 0.0


@dataclass
class CheckpointConfig:
    enabled: bool = True
    dir: str = MISSING


@dataclass
class DistributedConfig:
    """Data-parallel training, on when torchrun starts several processes (docs/distributed.md)."""

    # The processes' communication library: null picks gloo on CPUs, nccl on CUDA GPUs.
    backend: str | None = None


@dataclass
class TrainerConfig:
    max_epochs: int = 20
    # The whole batch of one optimizer step: under torchrun each process trains on its
    # slice of it, so the same batch_size learns the same whatever the processes.
    batch_size: int = 64
    eval_batch_size: int = 1024
    # Drives early stopping, the best checkpoint and plateau; whether lower or higher
    # is better follows from the metric (loss, rmse, mae: lower; acc, f1_macro, r2: higher).
    monitor: str = "val/loss"
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    gradient_clip_norm: float | None = None
    # Gather the gradients of this many batches (of their mean loss) before each optimizer
    # step: the effective batch is batch_size times this, in the memory of one batch.
    accumulate_batches: int = 1
    label_smoothing: float = 0.0
    # Weigh the training loss against class imbalance (PyTorch classifiers; scikit-learn
    # models take model.class_weight). The validation loss stays unweighted.
    class_weight: ClassWeight | None = None
    amp: bool = False  # mixed precision; takes effect on CUDA only
    # Images in channels-last memory layout: about 2x faster convolutions and pooling on
    # CPUs (oneDNN) and what tensor cores want on GPUs. No effect on other inputs.
    channels_last: bool = True
    detect_anomaly: bool = False  # torch.autograd anomaly mode: slow, finds the op making NaNs
    # Fail the run when an epoch's train or val loss exceeds the first batch's by this factor:
    # a loss that grows by orders of magnitude has diverged even while it is finite.
    max_loss_growth: float | None = 1e4
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    resume: str | None = None  # a checkpoint path or an MLflow run id
    limit_train_batches: int | None = None
    # An epoch trains on at least this many examples: a smaller training split is gone
    # through several times in one epoch, shuffled anew each time. With 100 labelled
    # digits and 6400, an epoch is 64 passes (100 steps of 64) instead of 2 steps, so
    # the number of steps and the schedule do not shrink with the data.
    min_epoch_examples: int | None = None
    progress_bar: bool | None = None  # null: only when stderr is a terminal
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    # Under torchrun on GPUs: batch norm statistics over the whole batch, not each slice.
    sync_batchnorm: bool = False


@dataclass
class LoggerConfig:
    tracking_uri: str = MISSING
    experiment_name: str = MISSING
    log_model: bool = True
    log_checkpoint: bool = True
    log_figures: bool = True
    # CPU, memory, disk and network use (and GPU, with pynvml) as system/* metrics, sampled
    # every 2 s by a thread beside training.
    system_metrics: bool = False
    # Register the run's model in the MLflow model registry under this name (a new version
    # each run). In a sweep with register_best, only its best run is registered, as the
    # `champion` alias of register_as (or of the sweep's name).
    register_as: str | None = None
    register_best: bool = False


@dataclass
class PathsConfig:
    root_dir: str = MISSING
    data_dir: str = MISSING
    models_dir: str = MISSING  # local copies of pretrained models
    outputs_dir: str = MISSING
    run_dir: str = MISSING


@dataclass
class Config:
    name: str = MISSING  # the MLflow experiment and the first part of run names
    seed: int = 42
    optimized_metric: str = "val/loss"  # the value `train.main` returns to a sweeper
    dataset: Any = MISSING
    model: Any = MISSING
    optimizer: Any = MISSING
    scheduler: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class LoadModelConfig:
    """Which trained model to load: an MLflow run id, a registered model or a checkpoint."""

    run_id: str | None = None
    # A registered model: models:/<name>@<alias> or models:/<name>/<version> (`model=` on
    # the command line means the same).
    model_uri: str | None = None
    checkpoint: str | None = None
    tracking_uri: str = MISSING
    batch_size: int = 1024
    paths: PathsConfig = field(default_factory=PathsConfig)


class Split(StrEnum):
    train = "train"
    val = "val"
    test = "test"


@dataclass
class EvaluateConfig(LoadModelConfig):
    split: Split = Split.test
    # Evaluate even when the data differs from what the run was trained on (the
    # differences are logged); by default a changed data file is refused.
    allow_changed_data: bool = False


@dataclass
class PredictConfig(LoadModelConfig):
    inputs: str | None = None  # an image file or folder; for text models a file, a text a line
    text: str | None = None  # one raw text, for text models
    invert: InvertMode = InvertMode.auto
    top_k: int = 3


SCHEMAS: dict[str, dict[str, type]] = {
    "dataset": {
        "digits": DigitsDatasetConfig,
        "csv": CsvDatasetConfig,
        "boston": BostonDatasetConfig,
        "image": ImageDatasetConfig,
        "image_folder": ImageFolderDatasetConfig,
        "tiny_imagenet": TinyImagenetDatasetConfig,
        "liar": LiarDatasetConfig,
        "imdb": ImdbDatasetConfig,
        "text_csv": TextCsvDatasetConfig,
    },
    "model": {
        "linear": LinearModelConfig,
        "mlp": MlpModelConfig,
        "sklearn_linear": SklearnLinearModelConfig,
        "simple_cnn": SimpleCnnConfig,
        "deep_cnn": DeepCnnConfig,
        "resnet18": ResNet18Config,
        "text_linear": TextLinearModelConfig,
        "fields_linear": FieldsLinearModelConfig,
        "recurrent": RecurrentModelConfig,
        "bert": BertModelConfig,
    },
    "optimizer": {"sgd": SgdConfig, "adam": AdamConfig, "adamw": AdamWConfig},
    "scheduler": {
        "none": SchedulerConfig,
        "step": StepSchedulerConfig,
        "cosine": CosineSchedulerConfig,
        "linear": LinearSchedulerConfig,
        "onecycle": OneCycleSchedulerConfig,
        "plateau": PlateauSchedulerConfig,
    },
    "device": {"device": DeviceConfig},
    "trainer": {"trainer": TrainerConfig},
    "logger": {"logger": LoggerConfig},
    "paths": {"paths": PathsConfig},
}
