"""Inputs that cannot be right are refused with one clear line, or repaired loudly; never a
quiet FINISHED with a wrong result. Table-driven, and grouped so that most cases share one
process: the bad data files are the jobs of one sweep (a failing job ends its own run
FAILED and the sweep goes on, so the sweep's exit code is 0 and each case is checked by
its run's status and end_reason), while the cases whose exit code matters run alone. Every
case also checks that the store changed in its own experiment only (or not at all)."""

from __future__ import annotations

import gzip
import os
import pickle
import random
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.running import Result, run_module
from tests.helpers.store_snapshot import Change, assert_only_changed, changes, snapshot

# --- bad data files: one sweep over dataset.path ------------------------------------------


def rows(make_row, count: int = 30) -> str:
    return "".join(make_row(index) + "\n" for index in range(count))


MARKERS = {3: "?", 4: "-", 5: " NA ", 6: "", 7: "n/a", 8: "unknown"}  # unknown: dataset.na_values
NOISE = random.Random(0).randbytes(3000)  # holds NUL bytes, as binary files do
A_FOLDER = object()  # dataset.path names a folder
NO_FILE = None  # dataset.path names nothing

# file name -> (its content, the run's final status, a line of its end_reason or of the log)
DATA_CASES = {
    # The file itself.
    "missing.csv": (NO_FILE, "FAILED", "data file not found: "),
    "a_folder": (A_FOLDER, "FAILED", "a_folder is a folder; set it to the CSV file"),
    "empty.csv": ("", "FAILED", "No columns to parse from file"),
    "header_only.csv": ("x,y\n", "FAILED", "has 0 usable rows; at least 10 are needed"),
    "five_rows.csv": ("x,y\n" + rows(lambda i: f"{i},{i}", 5), "FAILED", "has 5 usable rows"),
    "image.png": (b"\x89PNG\r\n\x1a\n" + NOISE, "FAILED", "it starts like a PNG image. Set"),
    "noise.bin": (NOISE, "FAILED", "as utf-8: it holds NUL bytes, as binary files do"),
    "book.xlsx": (b"PK\x03\x04" + NOISE, "FAILED", "like a ZIP archive (an .xlsx workbook is"),
    "packed.csv": (
        gzip.compress(b"x,y\n1,2\n"),
        "FAILED",
        "it starts like gzip-compressed data. Name it .csv.gz to have it decompressed",
    ),
    "utf16.csv": (
        ("x,y\n" + rows(lambda i: f"{i},{i}")).encode("utf-16"),
        "FAILED",
        "it starts like UTF-16 text. Set dataset.encoding=utf-16",
    ),
    "latin1.csv": (
        ("city,y\n" + rows(lambda i: f"{'Zürich' if i == 5 else 'Bern'},{i}")).encode("latin-1"),
        "FAILED",
        "as utf-8: byte 43 is not valid utf-8",
    ),
    "utf8_bom.csv": ("\ufeffx,y\n" + rows(lambda i: f"{i},{3 * i}"), "FINISHED", None),
    "crlf.csv": (
        ("x,y\n" + rows(lambda i: f"{i},{2 * i}")).replace("\n", "\r\n"),
        "FINISHED",
        None,
    ),
    # Its layout: separators, header, rows.
    "semicolons.csv": (
        "x;y\n" + rows(lambda i: f"{i};{i}"),
        "FAILED",
        "its columns are ['x;y']. The file seems to be separated by ';'",
    ),
    "tabs.csv": (
        "x\ty\n" + rows(lambda i: f"{i}\t{i}"),
        "FAILED",
        "separated by '\\t': set \"dataset.separator='\\t'\"",
    ),
    "ragged.csv": (
        "x,y\n" + rows(lambda i: f"{i},{i}" + (",7" if i == 3 else "")),
        "FAILED",
        "Expected 2 fields in line 5, saw 3",
    ),
    "rows_longer_than_header.csv": (
        "x,y\n" + rows(lambda i: f"{100 + i},{i},{2 * i}"),
        "FAILED",
        "Expected 2 fields in line 2, saw 3",
    ),
    "unclosed_quote.csv": (
        "x,y\n" + rows(lambda i: '"5,5' if i == 5 else f"{i},{i}"),
        "FAILED",
        "EOF inside string starting at row 6",
    ),
    "no_header.csv": (
        rows(lambda i: f"{i},{2 * i + 1}"),
        "FAILED",
        "its columns are ['0', '1']. Its first line holds numbers, not column names",
    ),
    "no_target_column.csv": (
        "x,z\n" + rows(lambda i: f"{i},{i}"),
        "FAILED",
        "its columns are ['x', 'z']. Set dataset.target to one of them.",
    ),
    "spaced_header.csv": (
        "x, y\n" + rows(lambda i: f"{i},{i}"),
        "FAILED",
        "columns are ['x', ' y']",
    ),
    "repeated_target.csv": (
        "x,y,y\n" + rows(lambda i: f"{i},{2 * i},{2 * i}"),
        "FAILED",
        "has columns with the same name: ['y']",
    ),
    "repeated_feature.csv": (
        "x,x,y\n" + rows(lambda i: f"{i},{i},{2 * i}"),
        "FAILED",
        "has columns with the same name: ['x']",
    ),
    "unnamed_column.csv": (
        "x,,y\n" + rows(lambda i: f"{i},{i % 4},{i}"),
        "FAILED",
        "a column without a name in its header, read as 'Unnamed: 1'",
    ),
    "saved_index.csv": (
        ",x,y\n" + rows(lambda i: f"{i},{i % 4},{i}"),
        "FAILED",
        "drop it with \"dataset.drop_columns=['Unnamed: 0']\"",
    ),
    "trailing_commas.csv": ("x,y,\n" + rows(lambda i: f"{i},{i},"), "FINISHED", None),
    "target_only.csv": ("y\n" + rows(str), "FAILED", "has no columns besides the target 'y'"),
    "repeated_rows.csv": (
        "x,y\n" + rows(lambda i: f"{i // 2},{i // 2}"),
        "FINISHED",
        "15 rows repeat an earlier row exactly",
    ),
    # Numbers, and what looks like them.
    "markers_in_numbers.csv": (
        "x,y\n" + rows(lambda i: f"{MARKERS.get(i, i % 7)},{2 * i}"),
        "FINISHED",
        "missing values (empty or a marker like ?, NA, -) per column: x=6",
    ),
    "gaps_in_a_whole_row.csv": (
        "a,b,y\n" + rows(lambda i: f",,{i}" if i == 4 else f"{i},{i % 3},{i}"),
        "FINISHED",
        "missing values (empty or a marker like ?, NA, -) per column: a=1, b=1",
    ),
    "a_word_among_numbers.csv": (
        "x,y\n" + rows(lambda i: f"{'three' if i == 4 else i % 7},{2 * i}"),
        "FAILED",
        "holds numbers except in 1 rows, e.g. ['three'] (first at row 6",
    ),
    "a_long_word_among_numbers.csv": (
        "x,y\n" + rows(lambda i: f"{'a' * 100_000 if i == 3 else i},{i}"),
        "FAILED",
        f"e.g. ['{'a' * 40}...'] (first at row 5",
    ),
    "scientific.csv": ("x,y\n" + rows(lambda i: f"{i * 1.5:e},{i}"), "FINISHED", None),
    "thousands.csv": (
        "x,y\n" + rows(lambda i: f'"{1000 + 37 * i:,}",{i}'),
        "FAILED",
        "numbers written with thousands separators, e.g. ['1,000', '1,037', '1,074']",
    ),
    "decimal_commas.csv": (
        "x,y\n" + rows(lambda i: f'"{i},5",{i}'),
        "FAILED",
        "written with decimal commas, e.g. ['0,5', '1,5', '2,5'] (first at row 2 of the file)",
    ),
    "thousand_dots.csv": (
        "x,y\n" + rows(lambda i: f'"{i + 1}.{i:03d},5",{i}'),
        "FAILED",
        "thousands dots and decimal commas, e.g. ['1.000,5'",
    ),
    "kilograms.csv": (
        "x,y\n" + rows(lambda i: f"{i + 10} kg,{i}"),
        "FAILED",
        "holds numbers with a unit or currency sign, 'kg', e.g. ['10 kg'",
    ),
    "dollars.csv": ("x,y\n" + rows(lambda i: f"${i + 5},{i}"), "FAILED", "sign, '$', e.g. ['$5'"),
    "percent.csv": ("x,y\n" + rows(lambda i: f"{i}%,{i}"), "FAILED", "sign, '%', e.g. ['0%'"),
    "dates.csv": (
        "day,x,y\n" + rows(lambda i: f"2024-01-{i + 1:02d},{i},{i}"),
        "FAILED",
        "column 'day' in ",  # ... has 30 different values in 30 rows
    ),
    "ids.csv": (
        "id,x,y\n" + rows(lambda i: f"user{i:04d},{i},{i}"),
        "FAILED",
        "an identifier, a date or free text",
    ),
    "inf_feature.csv": (
        "x,y\n" + rows(lambda i: f"{'inf' if i == 2 else i},{2 * i}"),
        "FAILED",
        "has infinite values (inf) in columns ['x'], first at row 4",
    ),
    "huge_feature.csv": (
        "x,y\n" + rows(lambda i: f"{'1e300' if i == 5 else i},{i}"),
        "FAILED",
        "too large for float32 training, in columns ['x']",
    ),
    # The target.
    "empty_target.csv": ("x,y\n" + rows(lambda i: f"{i},"), "FAILED", "is empty in every row"),
    "text_target.csv": (
        "x,y\n" + rows(lambda i: f"{i},{'cheap' if i % 2 else i}"),
        "FAILED",
        "regression target 'y' in ",  # ... has non-numeric values
    ),
    "dollar_target.csv": (
        "x,y\n" + rows(lambda i: f"{i},${i + 5}"),
        "FAILED",
        "or set dataset.task=classification if the values are categories",
    ),
    "targets_with_gaps.csv": (
        "x,y\n" + rows(lambda i: f"{i},{'?' if i % 10 == 0 else i}"),
        "FINISHED",
        "missing values (empty or a marker like ?, NA, -) per column: y=3",
    ),
    "inf_target.csv": (
        "x,y\n" + rows(lambda i: f"{i},{'-inf' if i == 9 else 2 * i}"),
        "FAILED",
        "has infinite values (inf) in columns ['y'], first at row 11",
    ),
    "constant_target.csv": (
        "x,y\n" + rows(lambda i: f"{i},5"),
        "FAILED",
        "is 5 in every row: there is nothing to learn",
    ),
    "huge_target.csv": (
        "x,y\n" + rows(lambda i: f"{i},{i * 1e20}"),
        "FAILED",
        "reaches 2.9e+21, whose squared error overflows float32 training",
    ),
}
# The files read as they should be: one feature per column, numbers as numbers.
INPUT_SHAPES = {
    "utf8_bom.csv": "[1]",
    "crlf.csv": "[1]",
    "trailing_commas.csv": "[1]",
    "scientific.csv": "[1]",
    "markers_in_numbers.csv": "[1]",  # the case: 139 one-hot columns out of one number
    "gaps_in_a_whole_row.csv": "[2]",
}
SWEEP_NAME = "../../../../bad_inputs"  # a name that would climb out of the outputs folder


@dataclass
class DataSweep:
    result: Result
    outputs: Path
    runs: dict  # file name -> its run
    changes: list[Change]  # to the store


def write_case(path: Path, content) -> None:
    if content is A_FOLDER:
        path.mkdir()
    elif content is not NO_FILE:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.fixture(scope="module")
def data_sweep(store, shared_data, tmp_path_factory) -> DataSweep:
    """One sweep, one job per bad file."""
    folder = tmp_path_factory.mktemp("bad_data")
    for name, (content, _, _) in DATA_CASES.items():
        write_case(folder / name, content)
    paths = ",".join(str(folder / name) for name in DATA_CASES)
    outputs = folder / "deep" / "down"
    options = ["-m", f"name={SWEEP_NAME}", "dataset=csv", "dataset.target=y", "debug=fast"]
    options += [f"dataset.path={paths}", "dataset.na_values=[unknown]"]
    before = snapshot(store)
    result = run_module("train", options, store, shared_data, outputs)
    runs = {
        Path(run.data.params["dataset.path"]).name: run
        for run in store.runs(SWEEP_NAME)
        if "dataset.path" in run.data.params
    }
    return DataSweep(result, outputs, runs, changes(before, snapshot(store)))


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_a_bad_data_file_is_refused_or_repaired_loudly(data_sweep, case):
    _, status, message = DATA_CASES[case]
    assert data_sweep.result.returncode == 0  # a failing job ends its own run, not the sweep
    run = data_sweep.runs[case]
    assert run.info.status == status, run.data.tags.get("end_reason")
    if status == "FAILED":
        assert message in run.data.tags["end_reason"]
        assert "DataError" in run.data.tags["end_reason"]
    elif message is not None:
        assert message in data_sweep.result.output
    assert "Traceback" not in data_sweep.result.output
    assert {change.experiment for change in data_sweep.changes} == {SWEEP_NAME}
    assert {change.kind for change in data_sweep.changes} == {"added"}


@pytest.mark.parametrize("case", list(INPUT_SHAPES))
def test_a_file_read_right_gives_one_feature_per_column(data_sweep, case):
    assert data_sweep.runs[case].data.params["data/input_shape"] == INPUT_SHAPES[case]


def test_the_sweep_adds_a_run_per_file_and_its_parent(data_sweep):
    added_runs = [change for change in data_sweep.changes if change.subject != "experiment"]
    assert len(added_runs) == len(DATA_CASES) + 1


def test_a_name_that_climbs_out_stays_one_folder_under_the_outputs(data_sweep):
    outputs = data_sweep.outputs
    assert list(outputs.parents[1].rglob("bad_inputs")) == []
    sweeps = [path.name for path in (outputs / "outputs" / "multiruns").iterdir()]
    assert len(sweeps) == 1 and sweeps[0].endswith("_.._.._.._bad_inputs")


# --- options and inputs that each run alone: the exit code and one line -------------------

NO_CUDA = pytest.mark.skipif(
    Path("/proc/driver/nvidia").exists(), reason="this machine may have a CUDA device"
)
UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"


class EndsTheProcess:
    """Pickled, it makes whoever unpickles it with code execution exit with code 99."""

    def __reduce__(self):
        return (os._exit, (99,))


ONE_CLASS = ("x,label\n" + rows(lambda i: f"{i},a")).encode()


@dataclass
class Case:
    """`python -m ml_experiments.<command> overrides...`: its exit code, a line of its
    output, and its run's final status (None: refused before a run is opened)."""

    overrides: list[str]
    message: str
    status: str | None = None
    exit_code: int = 1
    command: str = "train"
    files: dict[str, bytes] = field(default_factory=dict)  # written to {folder} first


COMMAND_CASES = {
    # Config: types, names, ranges and rules across keys.
    "unknown_dataset": Case(["dataset=imagenet"], "error: dataset has no option 'imagenet'."),
    "epochs_not_a_number": Case(["trainer.max_epochs=abc"], "full_key: trainer.max_epochs"),
    "seed_not_a_number": Case(["seed=abc"], "Value 'abc' of type 'str' could not be converted"),
    "negative_seed": Case(["seed=-1"], "seed must be between 0 and 4294967295, got -1"),
    "misspelled_key": Case(
        ["trainer.max_epoch=3"], "has no key 'max_epoch'. Did you mean trainer.max_epochs?"
    ),
    "csv_without_path": Case(["dataset=csv"], "these keys need a value: dataset.path, dataset."),
    "zero_lr": Case(["optimizer.lr=0"], "optimizer.lr must be positive, got 0.0"),
    "negative_lr": Case(["optimizer.lr=-1"], "optimizer.lr must be positive, got -1.0"),
    "no_epochs": Case(["trainer.max_epochs=0"], "trainer.max_epochs must be at least 1, got 0"),
    "empty_batches": Case(["trainer.batch_size=0"], "trainer.batch_size must be at least 1, got"),
    "validation_beyond_all": Case(
        ["dataset.val_fraction=1.5"], "dataset.val_fraction (1.5) and dataset.test_fraction"
    ),
    "no_threads": Case(["device.threads=0"], "device.threads must be null or at least 1, got 0"),
    "negative_gamma": Case(["scheduler=step", "scheduler.gamma=-1"], "scheduler.gamma=-1.0 would"),
    "zero_factor": Case(["scheduler=plateau", "scheduler.factor=0"], "scheduler.factor=0.0 would"),
    "negative_end": Case(["scheduler=linear", "scheduler.end_factor=-1"], "end_factor=-1.0 would"),
    "warmup_with_onecycle": Case(
        ["scheduler=onecycle", "scheduler.warmup_epochs=1"], "does not combine with OneCycleLR"
    ),
    "growth_below_one": Case(
        ["trainer.max_loss_growth=0.5"], "max_loss_growth must be null or above"
    ),
    "monitor_on_test": Case(["trainer.monitor=test/acc"], "trainer.monitor=test/acc is not a"),
    # Known only once the data or the model is built: the run is opened, and ends FAILED.
    "metric_of_another_task": Case(
        ["optimized_metric=val/rmse"], "is not a metric a classification run logs", "FAILED"
    ),
    "monitor_of_another_task": Case(
        ["trainer.monitor=val/rmse"], "not a validation metric of a classification run", "FAILED"
    ),
    "dropout_above_one": Case(
        ["model.dropout=1.5"], "ml_experiments.models.tabular.MLP rejected its options", "FAILED"
    ),
    "betas_above_one": Case(
        ["optimizer.betas=[1.5,0.999]"], "torch.optim.Adam rejected its options", "FAILED"
    ),
    # The machine and its folders.
    "missing_cuda": Case(["device=cuda"], "device=cuda was requested but this machine has no"),
    "unwritable_checkpoints": Case(
        ["trainer.checkpoint.dir=/proc/none"], "cannot write checkpoints to /proc/none", "FAILED"
    ),
    "unwritable_outputs": Case(
        ["paths.outputs_dir=/proc/none"], "cannot write the run's output folder /proc/none"
    ),
    # Data that only a classification run refuses.
    "a_single_class": Case(
        [
            "dataset=csv",
            "dataset.path={folder}/one.csv",
            "dataset.target=label",
            "dataset.task=classification",
        ],
        "has a single class (['a']); at least two are needed.",
        "FAILED",
        files={"one.csv": ONE_CLASS},
    ),  # fmt: skip
    # Lifecycle: what a run continues from.
    "resume_missing_file": Case(
        ["trainer.resume=/nonexistent/last.pt"], "checkpoint not found: /nonexistent/last.pt"
    ),
    "resume_unknown_run": Case(
        [f"trainer.resume={UNKNOWN_RUN}"], f"no MLflow run with id {UNKNOWN_RUN} in"
    ),
    # Security: a checkpoint is never loaded with code execution.
    "resume_from_code": Case(
        ["trainer.resume={folder}/last.pt"],
        "last.pt: it is damaged, cut short or not a checkpoint of this project",
        files={"last.pt": pickle.dumps({"epoch": EndsTheProcess()}, protocol=2)},
    ),
    # Inference: a trained run read back.
    "evaluate_unknown_run": Case(
        [f"run_id={UNKNOWN_RUN}"], f"no MLflow run with id {UNKNOWN_RUN} in", command="evaluate"
    ),
    "predict_unknown_run": Case(
        [f"run_id={UNKNOWN_RUN}", "text=hello"],
        f"no MLflow run with id {UNKNOWN_RUN} in",
        command="predict",
    ),  # fmt: skip
}
MARKS = {"missing_cuda": NO_CUDA}


@pytest.mark.parametrize(
    "case", [pytest.param(name, marks=MARKS.get(name, ())) for name in COMMAND_CASES]
)
def test_a_bad_option_gets_its_exit_code_one_line_and_its_run_status(
    store, shared_data, tmp_path, case
):
    spec = COMMAND_CASES[case]
    for name, content in spec.files.items():
        (tmp_path / name).write_bytes(content)
    experiment = f"bad_{case}"
    named = [f"name={experiment}"] if spec.command == "train" else []
    overrides = [override.replace("{folder}", str(tmp_path)) for override in spec.overrides]
    before = snapshot(store)
    result = run_module(
        spec.command, [*named, *overrides], store, shared_data, tmp_path, expect_success=False
    )
    assert result.returncode == spec.exit_code, result.output[-2000:]
    assert spec.message in result.output, result.output[-2000:]
    assert "Traceback" not in result.output
    if spec.status is None:
        assert_only_changed(before, snapshot(store))
    else:
        assert store.only_run(experiment).info.status == spec.status
        assert_only_changed(before, snapshot(store), experiment)


def test_a_loss_that_explodes_without_nan_fails_the_run(train, store):
    """Adam at lr=1e9: the loss reaches ~1e30 and stays finite."""
    result = train("name=bad_explodes", "optimizer.lr=1e9", "debug=fast", expect_success=False)
    assert result.returncode == 1
    assert "train/loss grew from 2.3" in result.output
    run = store.only_run("bad_explodes")
    assert run.info.status == "FAILED"
    assert "TrainingDiverged" in run.data.tags["end_reason"]


def test_a_repeated_target_fails_the_run_and_marks_an_abandoned_run_killed(train, store, tmp_path):
    """The duplicated-target file alone (its exit code), started beside a run whose process
    died without closing it: that run is marked KILLED, and the log says how to resume it."""
    table = tmp_path / "twice.csv"
    table.write_text(DATA_CASES["repeated_target.csv"][0])
    abandoned = _run_of_a_dead_process(store, "bad_repeated")
    result = train(
        "name=bad_repeated", "dataset=csv", f"dataset.path={table}", "dataset.target=y",
        expect_success=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"{table} has columns with the same name: ['y']" in result.output
    assert f"marked KILLED. Continue it with trainer.resume={abandoned}" in result.output
    statuses = {run.info.run_id: run.info.status for run in store.runs("bad_repeated")}
    assert statuses.pop(abandoned) == "KILLED"
    assert list(statuses.values()) == ["FAILED"]
    reason = store.client().get_run(abandoned).data.tags["end_reason"]
    assert "ended without closing the run" in reason


def _run_of_a_dead_process(store, experiment: str) -> str:
    """A RUNNING run tagged with this host and the id of a process that has ended, as a
    SIGKILLed training leaves it."""
    client = store.client()
    artifacts = (store.folder / "artifacts" / experiment).as_uri()
    experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
    ended = subprocess.Popen(["true"])
    ended.wait()
    tags = {"host": socket.gethostname(), "pid": str(ended.pid)}
    return client.create_run(experiment_id, tags=tags).info.run_id


def test_runs_sharing_a_checkpoint_folder_keep_their_own_and_resume_their_own(
    train, store, tmp_path
):
    shared = tmp_path / "shared_checkpoints"
    options = ("name=bad_shared", "debug=fast", f"trainer.checkpoint.dir={shared}")
    train(*options)
    train(*options)  # the same options: only the run id tells the two apart
    first, second = store.runs("bad_shared")
    assert {path.name for path in shared.iterdir()} == {first.info.run_id, second.info.run_id}
    resumed = train(*options, "trainer.max_epochs=3", f"trainer.resume={first.info.run_id}")
    assert f"resumed after epoch 2 from {shared / first.info.run_id / 'last.pt'}" in (
        resumed.output
    )
    # A folder written before checkpoints were kept per run: the other run's last.pt in it.
    legacy = tmp_path / "legacy"
    shutil.copytree(shared / second.info.run_id, legacy)
    store.client().set_tag(first.info.run_id, "checkpoint_dir", str(legacy))
    refused = train(*options, f"trainer.resume={first.info.run_id}", expect_success=False)
    assert refused.returncode == 1
    assert (
        f"trainer.resume={first.info.run_id} found a checkpoint of another run, "
        f"{second.info.run_id}"
    ) in refused.output
    after = {run.info.run_id: run for run in store.runs("bad_shared")}
    assert [run.info.status for run in after.values()] == ["FINISHED", "FINISHED"]
    steps = store.client().get_metric_history(second.info.run_id, "train/loss")
    assert sorted(point.step for point in steps) == [1, 2]  # the other run was never touched


def test_evaluate_checks_its_split_and_refuses_data_that_changed_since_training(
    train, store, shared_data, tmp_path
):
    table = tmp_path / "table.csv"
    table.write_text("x,y\n" + rows(lambda i: f"{i},{2 * i + i % 3}", 100))
    train("name=bad_changed_data", "dataset=csv", f"dataset.path={table}", "dataset.target=y",
          "model=sklearn_linear")  # fmt: skip
    run_id = store.only_run("bad_changed_data").info.run_id

    def evaluate(*options: str, expect_success: bool = True):
        arguments = [f"run_id={run_id}", *options]
        return run_module("evaluate", arguments, store, shared_data, tmp_path, expect_success)

    assert "train/rmse" in evaluate("split=train").output
    unknown = evaluate("split=validation", expect_success=False)
    assert unknown.returncode == 1 and "Traceback" not in unknown.output
    assert "Invalid value 'validation', expected one of [train, val, test]" in unknown.output
    table.write_text("x,y\n" + rows(lambda i: f"{i},{2 * i + i % 3}", 150))  # rows added
    changed = evaluate(expect_success=False)
    assert changed.returncode == 1
    what = f"the data of csv changed since run {run_id} was trained: train has 105 rows, was 70"
    assert what in changed.output
    assert "pass allow_changed_data=true" in changed.output
    allowed = evaluate("allow_changed_data=true")
    assert "allow_changed_data=true: evaluating on it anyway" in allowed.output
    assert "test/rmse" in allowed.output
    assert store.only_run("bad_changed_data").info.status == "FINISHED"
