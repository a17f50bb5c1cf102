"""A GPU check: the curriculum's CUDA and mixed-precision (AMP) paths on the GPU of this
machine, and data-parallel training with NCCL across its GPUs; writes
bench/results/gpu.md. About 6 minutes on one recent GPU.

    python bench/gpu.py                          # needs CUDA
    python bench/gpu.py --device cpu --quick     # the script's own check, on a CPU: tiny
                                                 # runs through the same paths, no results file

Every part runs the real entry point, launch to exit, on a fresh store:
- MNIST (`mnist_cnn`), fp32 and AMP: test accuracy against 99%, and seconds;
- Fashion-MNIST (`fashion_cnn`), fp32 and AMP: test accuracy against 93%, and seconds;
- IMDB with MiniLM (`imdb_minilm` at 256 tokens, AMP): test accuracy and training
  examples per second;
- DDP: `torchrun --standalone --nproc-per-node=<GPUs>` of `mnist_cnn` on `nccl`, when
  there are 2 GPUs or more (NCCL runs one process per GPU; on one GPU the row says so).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from common import PROJECT_ROOT, data_dir, latest_run, scratch_store, write_results

# Tiny data for --quick: enough for every path to run once (an epoch, a test pass).
QUICK = ["dataset.train_subset=256", "dataset.test_subset=128", "trainer.max_epochs=1"]
QUICK_MINILM = ["dataset.train_subset=32", "dataset.test_subset=32"]


@dataclass
class Part:
    label: str
    experiment: str
    overrides: list[str]
    target: float | None = None  # test accuracy to reach
    processes: int = 1  # >1: under torchrun


@dataclass
class Outcome:
    part: Part
    seconds: float
    accuracy: float
    examples_per_second: float


def parts(device: str, gpus: int) -> list[Part]:
    """What to run: each recipe on `device`, in fp32 and with AMP."""
    on = [f"device={device}"]
    amp = [*on, "trainer.amp=true"]
    found = [
        Part("MNIST `mnist_cnn`, fp32", "mnist_cnn", on, target=0.99),
        Part("MNIST `mnist_cnn`, AMP", "mnist_cnn", amp, target=0.99),
        Part("Fashion-MNIST `fashion_cnn`, fp32", "fashion_cnn", on, target=0.93),
        Part("Fashion-MNIST `fashion_cnn`, AMP", "fashion_cnn", amp, target=0.93),
        Part(
            "IMDB MiniLM, 256 tokens, AMP",
            "imdb_minilm",
            [*amp, "model.tokenizer.max_length=256", "model.tokenizer.keep_tail=192"],
        ),
    ]
    if gpus >= 2:
        backend = "nccl" if device == "cuda" else "gloo"
        found.append(
            Part(
                f"MNIST `mnist_cnn`, DDP on {gpus} processes ({backend}), AMP",
                "mnist_cnn",
                amp,
                target=0.99,
                processes=gpus,
            )  # fmt: skip
        )
    return found


def run_part(part: Part, quick: bool) -> Outcome:
    scratch, store = scratch_store("gpu")
    overrides = [*part.overrides, *(QUICK if quick else [])]
    if quick and part.experiment == "imdb_minilm":
        overrides += QUICK_MINILM
    command = [sys.executable, "-m", "ml_experiments.train", f"experiment={part.experiment}",
               f"paths.outputs_dir={scratch}", *overrides]  # fmt: skip
    if part.processes > 1:
        command[1:3] = ["-m", "torch.distributed.run", "--standalone",
                        f"--nproc-per-node={part.processes}", "-m", "ml_experiments.train"]  # fmt: skip
    environment = os.environ | {
        "MLFLOW_TRACKING_URI": store,
        "ML_EXPERIMENTS_DATA_DIR": str(data_dir()),
    }
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{part.label} failed:\n{done.stderr[-3000:]}")
    run = latest_run(store, part.experiment)
    epochs = _training_seconds(store, run.info.run_id)
    examples = float(run.data.params["data/train_rows"]) * len(epochs)
    return Outcome(part, seconds, run.data.metrics["test/acc"], examples / sum(epochs))


def _training_seconds(store: str, run_id: str) -> list[float]:
    """Each epoch's training time (batches only, no validation); early stopping may have
    ended the run before its last epoch."""
    import mlflow

    history = mlflow.MlflowClient(store).get_metric_history(run_id, "time/train_seconds")
    return [point.value for point in history]


def table(outcomes: list[Outcome]) -> str:
    rows = []
    for outcome in outcomes:
        target = outcome.part.target
        verdict = "" if target is None else ("yes" if outcome.accuracy >= target else "**no**")
        aim = "" if target is None else f"{target:.0%}"
        rows.append(
            f"| {outcome.part.label} | {outcome.accuracy:.2%} | {aim} | {verdict} "
            f"| {outcome.seconds:.1f} | {outcome.examples_per_second:,.0f} |"
        )
    header = (
        "| run | test accuracy | target | reached | seconds, launch to exit "
        "| training examples / s |\n|---|---|---|---|---|---|"
    )
    return "\n".join([header, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny runs: checks the script")
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run bench/gpu.py on a machine with a GPU")
    gpus = torch.cuda.device_count() if args.device == "cuda" else 2
    outcomes = []
    for part in parts(args.device, gpus):
        outcome = run_part(part, args.quick)
        print(f"{part.label}: {outcome.accuracy:.4f} test acc, {outcome.seconds:.1f} s", flush=True)
        outcomes.append(outcome)
    body = table(outcomes)
    if gpus < 2:
        body += (
            f"\n\nDDP with `nccl` did not run: {gpus} GPU here, and NCCL runs one process per"
            " GPU. CI checks DDP on 2 CPU processes with `gloo` (tests/e2e/test_ddp.py)."
        )
    body += (
        "\n\nEach run uses its experiment's recipe unchanged but for the device and"
        " `trainer.amp`; seconds include start-up, data loading, MLflow logging and figures."
        " Training examples per second: training rows times epochs over the epochs'"
        " `time/train_seconds`."
    )
    if args.quick:
        print(body)
        return
    write_results("gpu", "GPU check: CUDA, mixed precision and NCCL", body)


if __name__ == "__main__":
    main()
