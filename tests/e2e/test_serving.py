"""Every logged model is an end-to-end predictor: served by `mlflow models serve` on
127.0.0.1, an image, a tabular and a text model take raw inputs over HTTP and answer as
`predict` does (or, for tables, which predict does not read, as the model loaded in-process
and as the run's own test split says)."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.helpers.kaggle_format import kaggle_rows, write_kaggle_csv
from tests.helpers.running import PROJECT_ROOT, run_module

SERVER_START_SECONDS = 120
TABLE_ROWS = 200


def write_table(path: Path) -> None:
    """A CSV with a numeric column with gaps, a categorical one with gaps, and an integer
    one; the label follows the first two."""
    rng = np.random.default_rng(0)
    size = rng.normal(100, 30, TABLE_ROWS).round(1)
    colour = rng.choice(["red", "green", "blue"], TABLE_ROWS).astype(object)
    big = size / 50 + 2 * (colour == "red") + rng.normal(0, 0.3, TABLE_ROWS) > 3
    table = pd.DataFrame(
        {"size": size, "colour": colour, "age": rng.integers(1, 50, TABLE_ROWS)}
        | {"label": np.where(big, "big", "small")}
    )
    table.loc[::9, "size"] = np.nan
    table.loc[3::11, "colour"] = None
    table.to_csv(path, index=False)


def trainings(folder: Path) -> dict[str, list[str]]:
    """Small runs of each kind of data, by kind: the overrides of each."""
    table, articles = folder / "shapes.csv", folder / "articles.csv"
    write_table(table)
    write_kaggle_csv(articles, kaggle_rows())
    quick = ["logger.log_figures=false"]
    return {
        "image": ["experiment=mnist_cnn", "trainer.max_epochs=1", "dataset.train_subset=1000",
                  "dataset.val_size=200", "dataset.test_subset=200", *quick],
        "tabular": ["dataset=csv", f"dataset.path={table}", "dataset.target=label",
                    "dataset.task=classification", *quick],
        "text": ["experiment=fake_news_tfidf", f"dataset.path={articles}", "model.min_df=1",
                 *quick],
    }  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(run_id: str, store, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        ["mlflow", "models", "serve", "-m", f"runs:/{run_id}/model", "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        # The environment's own mlflow and uvicorn, as `source .venv/bin/activate` finds them.
        env=os.environ | {"MLFLOW_TRACKING_URI": store.uri,
                          "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the server's workers stop with it
    )  # fmt: skip
    return server, f"http://127.0.0.1:{port}"


def wait_until_up(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer /ping within {SERVER_START_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def served(store, shared_data, tmp_path_factory):
    """An image, a tabular and a text model, each trained small and served: kind ->
    (run id, the server's URL). The servers stop when the module's tests end."""
    folder = tmp_path_factory.mktemp("serving")
    runs = {}
    for kind, overrides in trainings(folder).items():
        run_module("train", [f"name=serving_{kind}", *overrides], store, shared_data, folder)
        runs[kind] = store.only_run(f"serving_{kind}").info.run_id
    servers = {
        kind: start_server(run_id, store, folder / f"{kind}.log") for kind, run_id in runs.items()
    }
    try:
        for kind, (server, url) in servers.items():
            wait_until_up(server, url, folder / f"{kind}.log")
        yield {kind: (runs[kind], url) for kind, (_, url) in servers.items()}
    finally:
        for server, _ in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def invoke(url: str, body: dict) -> tuple[int, dict]:
    """POST /invocations: the HTTP status and the JSON answer."""
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def answered(url: str, body: dict) -> pd.DataFrame:
    status, answer = invoke(url, body)
    assert status == 200, answer
    return pd.DataFrame(answer["predictions"])


def predicted(run_id: str, inputs: Path, store, shared_data, outputs: Path) -> list[dict]:
    """`python -m ml_experiments.predict run_id=... inputs=...`: its rows of predictions.csv."""
    run_module("predict", [f"run_id={run_id}", f"inputs={inputs}"], store, shared_data, outputs)
    with next(outputs.rglob("predictions.csv")).open() as file:
        return list(csv.DictReader(file))


def check_same_answers(served_rows: pd.DataFrame, predict_rows: list[dict]) -> None:
    """The served class is predict's, and its probability predict's confidence (rounded)."""
    probabilities = served_rows.filter(like="probability_")
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert served_rows["prediction"].tolist() == [row["prediction"] for row in predict_rows]
    confidences = [float(row["confidence"]) for row in predict_rows]
    assert probabilities.max(axis=1).tolist() == pytest.approx(confidences, abs=2e-4)


def test_a_served_image_model_takes_pixel_arrays_and_answers_as_predict_does(
    served, store, shared_data, tmp_path
):
    import mlflow

    run_id, url = served["image"]
    mlflow.set_tracking_uri(store.uri)
    digits = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").input_example  # real test images
    assert digits.dtype == np.uint8 and digits.shape == (3, 28, 28)
    # Dark ink on light paper, as a scan: predict inverts it (invert=auto), and so does the model.
    batch = np.concatenate([digits, 255 - digits[:1]])
    larger = np.asarray(Image.fromarray(digits[1]).resize((40, 40)))[None]  # resized to 28x28
    folder = tmp_path / "images"
    folder.mkdir()
    for number, pixels in enumerate([*batch, *larger]):
        Image.fromarray(pixels).save(folder / f"{number}.png")

    answers = pd.concat([answered(url, {"inputs": images.tolist()}) for images in (batch, larger)])
    expected = predicted(run_id, folder, store, shared_data, tmp_path / "predict")
    check_same_answers(answers.reset_index(drop=True), expected)
    assert list(answers.columns) == ["prediction", *(f"probability_{digit}" for digit in range(10))]
    status, refused = invoke(url, {"inputs": digits.tolist(), "params": {"invert": "sideways"}})
    assert status == 400 and "use auto, always or never" in refused.get("stack_trace", ""), refused


def test_a_served_tabular_model_takes_raw_rows_with_gaps_and_categories(served, store):
    """The test split's rows as the file has them, through the preprocessing fitted in
    training: the answers of the server, of the model loaded in-process and of the run's own
    weights on its prepared test split agree, and score the run's test accuracy."""
    import mlflow
    import torch

    from ml_experiments.config.build import build
    from ml_experiments.tracking.loading import from_run

    run_id, url = served["tabular"]
    trained = from_run(run_id, store.uri)
    data = build(trained.config.dataset, drop=(), seed=trained.config.seed)
    rows = data.raw_table.test_rows
    assert rows.isna().any().tolist() == [True, True, False]  # gaps in size and colour
    unseen = pd.DataFrame({"size": [None, 150.0], "colour": ["purple", None], "age": [3, 70]})
    rows = pd.concat([rows, unseen], ignore_index=True)

    answers = answered(
        url, {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    )
    mlflow.set_tracking_uri(store.uri)
    in_process = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(rows)
    pd.testing.assert_frame_equal(answers, in_process, check_dtype=False, atol=1e-6)
    with torch.no_grad():
        weights_only = torch.softmax(trained.model(data.test.x), dim=1).numpy()
    tested = answers.iloc[: len(data.test)]
    assert np.allclose(tested[["probability_big", "probability_small"]], weights_only, atol=1e-5)
    truth = np.asarray(data.meta.class_names)[data.test.y.numpy()]
    accuracy = (tested["prediction"] == truth).mean()
    assert accuracy == pytest.approx(store.client().get_run(run_id).data.metrics["test/acc"])


def test_a_served_text_model_takes_raw_strings_and_answers_as_predict_does(
    served, store, shared_data, tmp_path
):
    run_id, url = served["text"]
    texts = [
        "<p>SHOCKING secret EXPOSED: https://example.com</p>",
        "Senate committee budget vote",
        "Ünïcödé miracle hoax — “banned” truth",
    ]
    file = tmp_path / "texts.txt"
    file.write_text("\n".join(texts) + "\n")
    expected = predicted(run_id, file, store, shared_data, tmp_path / "predict")

    answers = answered(
        url, {"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}}
    )
    check_same_answers(answers, expected)
    assert answers["prediction"].tolist() == ["unreliable", "reliable", "unreliable"]
    assert answered(url, {"inputs": texts}).equals(answers)  # a plain list of strings too
