"""A small corpus of long documents through `dataset=text_csv` with the defaults: the
linear model's C is chosen on the validation split, so it does not collapse to the
majority class (as a fixed C=1 does on this corpus: tests/unit/engine/test_sklearn_fit.py)."""

from __future__ import annotations

from ml_experiments.config.schemas import C_GRID
from tests.unit.engine.test_sklearn_fit import write_long_documents

MAJORITY_SHARE = 2 / 3  # 120 of the 180 documents, and of the stratified test split


def test_a_small_corpus_of_long_documents_beats_its_majority_class_with_defaults(
    train, store, tmp_path
):
    corpus = write_long_documents(tmp_path / "long_documents.csv")
    train(
        "dataset=text_csv",
        f"dataset.path={corpus}",
        "dataset.text_columns=[text]",
        "dataset.label_column=label",
        "model=tfidf_logreg",
        "name=long_documents",
    )
    run = store.only_run("long_documents")
    assert run.info.status == "FINISHED"
    metrics, params = run.data.metrics, run.data.params
    assert metrics["test/acc"] >= MAJORITY_SHARE + 0.15
    assert metrics["test/f1_macro"] >= 0.75  # a majority-class answer scores 0.4
    assert {f"search/C_{value:g}/val/f1_macro" for value in C_GRID} <= set(metrics)
    assert float(params["model.C_chosen"]) in C_GRID
