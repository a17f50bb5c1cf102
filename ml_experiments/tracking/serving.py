"""The MLflow model a run logs under `model/`: the trained model together with what turns
raw inputs into its inputs and its outputs into answers, so that `mlflow.pyfunc.load_model`
and `mlflow models serve` take what a user has (docs/serving.md):

- tabular: a DataFrame of the file's feature columns as read (gaps as null, categories
  as text), prepared by the preprocessing fitted on the training split;
- text: a DataFrame with a `text` column of raw strings;
- images: a batch of uint8 pixel arrays, (N, H, W) grey or (N, H, W, 3) colour, of any
  size, converted as `predict` converts image files.

It answers with a DataFrame: `prediction`, the class name, and a `probability_<class>`
column per class; for regression `prediction` alone, in the target's units.

The whole of it is pickled (cloudpickle), so loading it runs code from the file; `predict`
and `evaluate` never load it (docs/faults.md, "Model files").
"""

from __future__ import annotations

import io
import logging
import warnings
from importlib.metadata import version

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch

from ml_experiments.config.schemas import InvertMode, Modality, Task
from ml_experiments.data import DataBundle, DatasetMeta
from ml_experiments.data.base import RawTable
from ml_experiments.errors import DataError

MODEL_FOLDER = "model"
PREDICTION = "prediction"
PROBABILITY_PREFIX = "probability_"
TEXT_COLUMN = "text"
INVERT = "invert"  # the images' parameter, as predict's invert= option
EXAMPLE_ROWS = 3  # of the test split; images make large JSON examples
BATCH_SIZE = 256  # inputs per forward pass of a PyTorch model
# As predict: a transformer's attention grows with the square of the length.
TEXT_BATCH_SIZE = 64
# What the logged model imports to answer; it needs this project installed besides.
REQUIREMENTS = ("torch", "scikit-learn", "pandas", "pillow")


class EndToEndModel(mlflow.pyfunc.PythonModel):
    """A trained model (a PyTorch module, or a fitted scikit-learn estimator) that answers
    with class names and probabilities, or values. A subclass per kind of data turns raw
    inputs into the model's; the type hint of its `predict` names what it takes."""

    def __init__(self, model, data: DataBundle):
        self.model = model
        self.meta = data.meta

    def answer(self, inputs) -> pd.DataFrame:
        return answers(self.meta, self.outputs(inputs))

    def outputs(self, inputs) -> torch.Tensor:
        """Class probabilities, or regression values in the target's units."""
        from ml_experiments.engine.sklearn_fit import class_log_probabilities
        from ml_experiments.models.protocols import ReadsText

        classifies = self.meta.task == Task.classification
        if isinstance(self.model, ReadsText):
            starts = range(0, len(inputs), TEXT_BATCH_SIZE)
            chunks = [inputs[start : start + TEXT_BATCH_SIZE] for start in starts]
            return torch.cat([self.model.predict_texts(chunk) for chunk in chunks])
        if isinstance(self.model, torch.nn.Module):
            with torch.no_grad():
                batches = torch.as_tensor(inputs).split(BATCH_SIZE)
                outputs = torch.cat([self.model(batch) for batch in batches])
            return torch.softmax(outputs, dim=1) if classifies else outputs.squeeze(1)
        if self.meta.modality != Modality.text:  # numbers, flattened as the fit saw them
            inputs = torch.as_tensor(inputs).flatten(1).numpy()
        if classifies:
            return class_log_probabilities(self.model, inputs, self.meta.class_names).exp()
        return torch.as_tensor(self.model.predict(inputs))


class TableModel(EndToEndModel):
    """Rows with the file's feature columns as read: gaps as null, categories as text."""

    def __init__(self, model, data: DataBundle):
        super().__init__(model, data)
        raw = _raw_table(data)
        self.column_types = dict(raw.test_rows.dtypes)  # as training read each column
        self.preprocessor = raw.preprocessor

    def predict(self, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        typed = {
            name: _typed_like(model_input[name], kind) for name, kind in self.column_types.items()
        }
        rows = pd.DataFrame(typed)
        # A loader of one's own keeps no preparation: its rows are the model's inputs.
        inputs = rows if self.preprocessor is None else self.preprocessor.transform(rows)
        return self.answer(np.array(inputs, dtype=np.float32))  # writable, as torch wants


class TextModel(EndToEndModel):
    """Raw strings in a `text` column: the model cleans and tokenizes them itself. A model
    that reads fields apart takes a column per field instead, named as in training."""

    def predict(self, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from ml_experiments.models.protocols import ReadsFields

        if isinstance(self.model, ReadsFields):  # it picks its columns by name
            return self.answer(model_input)
        return self.answer(model_input[TEXT_COLUMN].fillna("").astype(str).tolist())


class ImageModel(EndToEndModel):
    """A batch of uint8 pixel arrays, (N, H, W) grey or (N, H, W, 3) colour, of any size;
    `params={"invert": ...}` as predict's invert= option."""

    def predict(self, model_input: np.ndarray, params: dict | None = None) -> pd.DataFrame:
        invert = (params or {}).get(INVERT, InvertMode.auto.value)
        if invert not in {mode.value for mode in InvertMode}:
            raise DataError(
                f"params {INVERT}={invert!r} is not an option: use auto, always or never"
            )
        return self.answer(self._as_trained(model_input, invert))

    def _as_trained(self, images: np.ndarray, invert: str) -> torch.Tensor:
        """As predict reads image files: grey or colour at the size the training images were
        kept at, inverted as `invert` says, then resized as every training batch was."""
        from ml_experiments.data.image_files import batch_as_trained, kept_shape

        kept = kept_shape(self.meta)
        return batch_as_trained(
            [_as_read_from_a_file(pixels, kept, invert) for pixels in images], self.meta
        )


MODELS = {Modality.tabular: TableModel, Modality.text: TextModel, Modality.image: ImageModel}


def _typed_like(values: pd.Series, trained: np.dtype) -> pd.Series:
    """A column as training read it: numbers as floats, text as text, every gap as NaN (the
    imputers see NaN as a gap, not None)."""
    if pd.api.types.is_numeric_dtype(trained):
        return values.astype(float)
    typed = values.astype(trained)
    return typed.where(typed.notna(), np.nan)


def _as_read_from_a_file(pixels: np.ndarray, shape: tuple[int, ...], invert: str) -> torch.Tensor:
    """An array written as a (lossless) PNG and read back by predict's own reader: both
    convert images alike, grey or colour, resized and inverted the same way."""
    from PIL import Image

    from ml_experiments.data.image_files import load_image

    file = io.BytesIO()
    Image.fromarray(np.asarray(pixels)).save(file, format="PNG", compress_level=0)
    return load_image(file, shape, invert)


def answers(meta: DatasetMeta, outputs: torch.Tensor) -> pd.DataFrame:
    """The prediction (a class name, or a value) and, for a classifier, each class's
    probability."""
    values = outputs.cpu().numpy()
    if meta.task == Task.regression:
        return pd.DataFrame({PREDICTION: values})
    names = np.asarray(meta.class_names, dtype=object)
    probabilities = {
        f"{PROBABILITY_PREFIX}{name}": values[:, index]
        for index, name in enumerate(meta.class_names)
    }
    return pd.DataFrame({PREDICTION: names[values.argmax(axis=1)], **probabilities})


def log_end_to_end_model(model, data: DataBundle) -> str:
    """Log `model` (a PyTorch module on the CPU, or a fitted scikit-learn estimator) as the
    run's MLflow model under `model/`, with a signature and an input example of real test
    inputs; return its LoggedModel id."""
    # MLflow warns of the pickle on every call: it is deliberate (the module's docstring).
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    end_to_end = MODELS[data.meta.modality](model, data)
    example = input_example(data, model)
    info = mlflow.pyfunc.log_model(
        name=MODEL_FOLDER,
        python_model=end_to_end,
        signature=_signature(end_to_end, example),
        input_example=example,
        # Listing the requirements skips MLflow's slow import-tracing inference.
        pip_requirements=[f"{package}=={_version(package)}" for package in REQUIREMENTS],
    )
    return info.model_id


def input_example(data: DataBundle, model):
    """A few test inputs as a user has them: raw rows, texts (or their fields, for `model`
    that reads them apart), or uint8 images."""
    from ml_experiments.models.protocols import ReadsFields

    modality = data.meta.modality
    if modality == Modality.tabular:
        return _example_rows(_raw_table(data).test_rows)
    if isinstance(model, ReadsFields):
        return data.test.fields[model.field_names].head(EXAMPLE_ROWS)
    if modality == Modality.text:
        return pd.DataFrame({TEXT_COLUMN: list(data.test.texts[:EXAMPLE_ROWS])})
    images = data.test.x[:EXAMPLE_ROWS].cpu().permute(0, 2, 3, 1)  # (N, H, W, C), as files
    return (images.squeeze(3) if images.shape[3] == 1 else images).numpy()


def _raw_table(data: DataBundle) -> RawTable:
    """Tabular data's rows before preparation; for a loader of one's own that keeps none,
    its features as they are, one column each, as doubles (what a table of numbers holds:
    MLflow refuses doubles for a column of floats)."""
    if data.raw_table is not None:
        return data.raw_table
    names = data.meta.feature_names or [f"feature_{i}" for i in range(data.meta.num_features)]
    rows = pd.DataFrame(data.test.x.cpu().flatten(1).double().numpy(), columns=names)
    return RawTable(preprocessor=None, test_rows=rows)


def _example_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The first test rows, those with gaps first: the example shows how a gap is sent. The
    columns keep the types the file gave them, so a table read like it fits the signature."""
    with_gaps_first = rows.isna().any(axis=1).sort_values(ascending=False, kind="stable").index
    return rows.loc[with_gaps_first[:EXAMPLE_ROWS]].reset_index(drop=True)


def _signature(end_to_end: EndToEndModel, example):
    """Inputs as the example has them (every column required, with the file's types; images:
    uint8 arrays of any size), outputs as the model answers the example."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

    with warnings.catch_warnings():
        # MLflow's hint that an integer column cannot take a gap: the file had none in it,
        # and a table read like it fits as it is (docs/serving.md).
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        inferred = infer_signature(example, end_to_end.predict(example))
    if not isinstance(end_to_end, ImageModel):
        columns = [ColSpec(spec.type, spec.name, required=True) for spec in inferred.inputs.inputs]
        return ModelSignature(Schema(columns), inferred.outputs)
    channels = end_to_end.meta.input_shape[0]
    shape = (-1, -1, -1) if channels == 1 else (-1, -1, -1, channels)
    invert = ParamSchema([ParamSpec(INVERT, "string", InvertMode.auto.value)])
    return ModelSignature(Schema([TensorSpec(np.dtype(np.uint8), shape)]), inferred.outputs, invert)


def _version(package: str) -> str:
    return version(package).split("+")[0]  # torch's local build tag (+cu130) is not on PyPI
