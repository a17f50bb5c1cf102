"""Stage 4 text classifiers on the real LIAR and IMDB data, next to published results,
through the real entry point.

    python bench/text.py [--experiments liar_tfidf imdb_tfidf ...]

TF-IDF with logistic regression is deterministic, so each is run once.
"""

from __future__ import annotations

import argparse

from common import latest_run, scratch_store, train, write_results

# experiment -> (what it is, the published anchor it is compared with)
EXPERIMENTS = {
    "liar_tfidf": (
        "LIAR, 6 classes, statement text: TF-IDF (1-2 grams) + logistic regression",
        "Wang (2017): logistic regression 24.7%, SVM 25.5%, CNN 27.0%; majority class 20.8%",
    ),
    "imdb_tfidf": (
        "IMDB, 2 classes: TF-IDF (1-2 grams, 200k terms) + logistic regression",
        "TF-IDF + logistic regression, published 88.5-89.8%",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS)
    )
    args = parser.parse_args()
    scratch, store = scratch_store("text")
    rows = []
    for experiment in args.experiments:
        seconds = train([f"experiment={experiment}"], store, scratch)
        run = latest_run(store, experiment)
        what, anchor = EXPERIMENTS[experiment]
        accuracy, f1 = run.data.metrics["test/acc"], run.data.metrics["test/f1_macro"]
        print(f"{experiment}: {accuracy:.4f} in {seconds:.0f} s", flush=True)
        rows.append(
            f"| `{experiment}` | {what} | {accuracy:.2%} | {f1:.3f} | {seconds:.0f} | {anchor} |"
        )
    body = (
        "| experiment | model | test accuracy | test macro-F1 | seconds, launch to exit "
        "| published |\n|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    write_results("text", "Stage 4: text classification on LIAR and IMDB", body)


if __name__ == "__main__":
    main()
