import pytest
import torch

from ml_experiments.config.schemas import Modality, Task
from ml_experiments.data import DataBundle, DatasetMeta, TensorSplit
from ml_experiments.engine.sanity import baseline_metrics, result_warnings


def bundle(task: Task, train_y: torch.Tensor, test_y: torch.Tensor) -> DataBundle:
    classes = ["a", "b", "c"] if task == Task.classification else None
    meta = DatasetMeta("toy", task, (1,), class_names=classes, modality=Modality.tabular)

    def split(y):
        return TensorSplit(torch.zeros(len(y), 1), y)

    return DataBundle(split(train_y), split(train_y[:2]), split(test_y), meta)


def test_the_classification_baseline_predicts_the_training_majority_with_its_frequencies():
    data = bundle(Task.classification, torch.tensor([0, 1, 1, 1]), torch.tensor([1, 1, 0, 2]))
    metrics = baseline_metrics(data)
    assert metrics["baseline/test/acc"] == pytest.approx(0.5)
    # Cross-entropy of the training frequencies (1/4, 3/4, ~0) on the test labels.
    expected = (
        -(2 * torch.tensor(0.75).log() + torch.tensor(0.25).log() + torch.tensor(1e-12).log()) / 4
    )
    assert metrics["baseline/test/loss"] == pytest.approx(expected.item(), rel=1e-4)


def test_the_regression_baseline_predicts_the_training_mean():
    data = bundle(Task.regression, torch.tensor([1.0, 3.0]), torch.tensor([2.0, 4.0]))
    metrics = baseline_metrics(data)
    assert metrics["baseline/test/rmse"] == pytest.approx(2**0.5)  # errors 0 and 2
    assert metrics["baseline/test/mae"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("task", "metrics", "tag"),
    [
        (Task.classification, {"test/acc": 0.6, "baseline/test/acc": 0.6}, "worse_than_baseline"),
        (Task.classification, {"test/acc": 0.61, "baseline/test/acc": 0.6}, None),
        (Task.regression, {"test/rmse": 9.0, "baseline/test/rmse": 8.0}, "worse_than_baseline"),
        (Task.regression, {"test/rmse": 3.0, "baseline/test/rmse": 8.0}, None),
    ],
)
def test_a_run_no_better_than_its_baseline_is_warned(task, metrics, tag):
    found = [warning.tag for warning in result_warnings(task, metrics, None)]
    assert found == ([tag] if tag else [])


@pytest.mark.parametrize(
    ("losses", "warned"),
    [
        ([2.0, 1.0], True),
        ([3.0], False),
        ([1.0, 1.2], False),  # rising: nothing gained
        ([2.0, 1.0, 0.5, 0.30, 0.29, 0.288, 0.287], False),  # flattened
        # The default run's last epochs: noisy, 1% of the fall from 2.3.
        ([2.3, 1.0, 0.5, 0.151, 0.128, 0.134, 0.127], False),
        # The newcomer's table: a slow, steady fall, a third of it in the last 3 epochs.
        ([85.0, 83.0, 81.0, 79.0, 78.0, 76.3, 74.4, 72.8, 71.1, 69.6], True),
        ([1.0, 0.999, 0.998, 0.997], False),  # a share of nothing: below 1% an epoch
    ],
)
def test_a_loss_still_falling_at_the_last_epochs_is_warned(losses, warned):
    found = result_warnings(Task.regression, {"best_epoch": 1.0}, {"train/loss": losses})
    assert [warning.tag for warning in found] == (["still_improving"] if warned else [])
    if warned:
        assert "Raise trainer.max_epochs" in found[0].message


def test_a_steady_fall_with_the_best_epoch_last_is_warned():
    """A linear model at a small learning rate on a table: 2% an epoch, 5% of its whole
    fall in the last three epochs, and validation still improving."""
    losses = [93.7, 87.4, 81.8, 76.5, 71.8, 67.4, 63.6, 60.2, 57.1, 54.4, 52.1, 50.1, 48.3]
    losses += [46.7, 45.4, 44.2, 43.0, 42.0, 41.2, 40.3]
    history = {"train/loss": losses}
    found = result_warnings(Task.regression, {"best_epoch": 20.0}, history)
    assert [warning.tag for warning in found] == ["still_improving"]
    assert "the last epoch was the best on validation" in found[0].message
    assert result_warnings(Task.regression, {"best_epoch": 12.0}, history) == []
