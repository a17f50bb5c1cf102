"""Each model has exactly the optional abilities the loop and the commands rely on."""

from __future__ import annotations

import pytest

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DatasetMeta
from ml_experiments.data.vocabulary import Vocabulary
from ml_experiments.models.protocols import (
    EpochAware,
    HasParameterGroups,
    LoadsPretrained,
    ReadsText,
)

ABILITIES = (ReadsText, HasParameterGroups, EpochAware, LoadsPretrained)
CLASSES = ["a", "b"]
TABLE = DatasetMeta("t", Task.classification, (4,), CLASSES, modality=Modality.tabular)
IMAGES = DatasetMeta(
    "i", Task.classification, (3, 8, 8), CLASSES, channel_mean=[0.5] * 3,
    channel_std=[0.2] * 3, modality=Modality.image,
)  # fmt: skip
TEXT = DatasetMeta("x", Task.classification, (6,), CLASSES, modality=Modality.text)


def build(name: str, tiny_bert):
    from ml_experiments.models import bert, cnn, resnet, rnn, tabular

    vocabulary = Vocabulary(min_freq=1, max_length=6).fit(["a few words", "more words"])
    builders = {
        "linear": lambda: tabular.LinearModel(TABLE),
        "mlp": lambda: tabular.MLP(TABLE, [8], 0.0, "relu", False),
        "simple_cnn": lambda: cnn.SimpleCNN(IMAGES, [4], 8, 0.0),
        "deep_cnn": lambda: cnn.DeepCNN(IMAGES, [4], 1, True, 0.0),
        "resnet18": lambda: resnet.ResNet18Classifier(IMAGES, weights=None),
        "lstm": lambda: rnn.RecurrentClassifier(TEXT, vocabulary),
        "bert": lambda: bert.TransformerClassifier(
            TEXT, bert.PretrainedTokenizer(str(tiny_bert), max_length=6), str(tiny_bert)
        ),
    }
    return builders[name]()


EXPECTED = {
    "linear": set(),
    "mlp": set(),
    "simple_cnn": {LoadsPretrained},
    "deep_cnn": {LoadsPretrained},
    "resnet18": {LoadsPretrained, HasParameterGroups, EpochAware},
    "lstm": {ReadsText},
    "bert": {ReadsText, HasParameterGroups},
}


@pytest.mark.parametrize("name", EXPECTED)
def test_a_model_has_exactly_its_abilities(name, tiny_bert):
    model = build(name, tiny_bert)
    assert {ability for ability in ABILITIES if isinstance(model, ability)} == EXPECTED[name]
