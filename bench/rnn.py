"""The recurrent text model on a CPU: one training step on packed sequences against the
same step on the padded batch (which gives the same numbers), as in `imdb_lstm`.

    python bench/rnn.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import median, write_results

from ml_experiments.data import DatasetMeta
from ml_experiments.data.vocabulary import Vocabulary
from ml_experiments.models.rnn import RecurrentClassifier

BATCH, MAX_LENGTH, VOCABULARY = 64, 256, 30000


def step_seconds(model: RecurrentClassifier, ids: torch.Tensor, labels: torch.Tensor,
                 repeats: int) -> float:  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters())
    times = []
    for _ in range(repeats + 1):  # the first warms up
        started = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(ids), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - started)
    return median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    vocabulary = Vocabulary(max_length=MAX_LENGTH)
    vocabulary.tokens = [f"w{index}" for index in range(VOCABULARY)]
    meta = DatasetMeta("bench", "classification", (MAX_LENGTH,), ["neg", "pos"], modality="text")
    # Lengths as in IMDB at 256 words: from 60 to the full 256, a third of them cut.
    lengths = torch.randint(60, MAX_LENGTH * 3 // 2, (BATCH,)).clamp(max=MAX_LENGTH)
    ids = torch.randint(2, VOCABULARY, (BATCH, MAX_LENGTH))
    ids[torch.arange(MAX_LENGTH)[None, :] >= lengths[:, None]] = 0
    labels = torch.randint(0, 2, (BATCH,))
    rows = []
    for cell in ("lstm", "gru"):
        for hidden in (64, 128):
            model = RecurrentClassifier(meta, vocabulary, cell=cell, hidden_size=hidden)
            seconds = {}
            for packed in (True, False):
                model.packed = packed
                seconds[packed] = step_seconds(model, ids, labels, args.repeats)
            ratio = seconds[True] / seconds[False]
            print(f"{cell} {hidden}: packed {seconds[True]:.3f} s, padded {seconds[False]:.3f} s")
            rows.append(f"| {cell}, bidirectional, hidden {hidden} | {seconds[True]:.3f} "
                        f"| {seconds[False]:.3f} | {ratio:.1f}x |")  # fmt: skip
    body = (
        f"One training step (forward, backward, Adam) on a batch of {BATCH} texts of up to "
        f"{MAX_LENGTH} words, embedding 128, mean-pooling (the default); median of {args.repeats}.\n\n"
        "| model | packed sequences, s | padded batch, s | padded is faster by |\n"
        "|---|---|---|---|\n" + "\n".join(rows)
    )
    write_results("rnn", "The recurrent text model on a CPU: packed against padded", body)


if __name__ == "__main__":
    main()
