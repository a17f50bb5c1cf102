"""Inputs that cannot be right are refused with one clear line, or repaired loudly; never a
quiet FINISHED with a wrong result. Table-driven, and grouped so that most cases share one
process: the bad data files are the jobs of one sweep (a failing job ends its own run
FAILED and the sweep goes on, so the sweep's exit code is 0 and each case is checked by
its run's status and end_reason), while the cases whose exit code matters run alone."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

# --- bad data files: one sweep over dataset.path ------------------------------------------


def rows(make_row, count: int = 30) -> str:
    return "".join(make_row(index) + "\n" for index in range(count))


MARKERS = {3: "?", 4: "-", 5: " NA ", 6: "", 7: "n/a", 8: "unknown"}  # unknown: dataset.na_values

# file name -> (its bytes, the run's final status, a line of its end_reason or of the log)
DATA_CASES = {
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
    "markers_in_numbers.csv": (
        "x,y\n" + rows(lambda i: f"{MARKERS.get(i, i % 7)},{2 * i}"),
        "FINISHED",
        "missing values (empty or a marker like ?, NA, -) per column: x=6",
    ),
    "a_word_among_numbers.csv": (
        "x,y\n" + rows(lambda i: f"{'three' if i == 4 else i % 7},{2 * i}"),
        "FAILED",
        "column 'x' in ",  # ... holds numbers except in 1 rows, e.g. ['three']
    ),
    "inf_feature.csv": (
        "x,y\n" + rows(lambda i: f"{'inf' if i == 2 else i},{2 * i}"),
        "FAILED",
        "has infinite values (inf) in columns ['x'], first at row 4",
    ),
    "inf_target.csv": (
        "x,y\n" + rows(lambda i: f"{i},{'-inf' if i == 9 else 2 * i}"),
        "FAILED",
        "has infinite values (inf) in columns ['y'], first at row 11",
    ),
    "huge_feature.csv": (
        "x,y\n" + rows(lambda i: f"{'1e300' if i == 5 else i},{i}"),
        "FAILED",
        "too large for float32 training, in columns ['x']",
    ),
    "empty_target.csv": ("x,y\n" + rows(lambda i: f"{i},"), "FAILED", "is empty in every row"),
    "latin1.csv": (
        "city,y\n" + rows(lambda i: f"{'Zürich' if i == 5 else 'Bern'},{i}"),
        "FAILED",
        "as utf-8: byte 43 is not valid utf-8",
    ),
    "header_only.csv": ("x,y\n", "FAILED", "has 0 usable rows; at least 10 are needed"),
    "empty.csv": ("", "FAILED", "No columns to parse from file"),
    "text_target.csv": (
        "x,y\n" + rows(lambda i: f"{i},{'cheap' if i % 2 else i}"),
        "FAILED",
        "regression target 'y' in ",  # ... has non-numeric values
    ),
    "semicolons.csv": ("x;y\n" + rows(lambda i: f"{i};{i}"), "FAILED", "its columns are ['x;y']"),
    "five_rows.csv": ("x,y\n" + rows(lambda i: f"{i},{i}", 5), "FAILED", "has 5 usable rows"),
    "ragged.csv": (
        "x,y\n" + rows(lambda i: f"{i},{i}" + (",7" if i == 3 else "")),
        "FAILED",
        "Expected 2 fields in line 5, saw 3",
    ),
    "utf8_bom.csv": ("\ufeffx,y\n" + rows(lambda i: f"{i},{3 * i}"), "FINISHED", None),
    "targets_with_gaps.csv": (
        "x,y\n" + rows(lambda i: f"{i},{'?' if i % 10 == 0 else i}"),
        "FINISHED",
        "missing values (empty or a marker like ?, NA, -) per column: y=3",
    ),
}
SWEEP_NAME = "../../../../bad_inputs"  # a name that would climb out of the outputs folder


@pytest.fixture(scope="module")
def data_sweep(store, shared_data, tmp_path_factory):
    """One sweep, one job per bad file: (the sweep's output, outputs folder, runs by file)."""
    from tests.helpers.running import run_module

    folder = tmp_path_factory.mktemp("bad_data")
    for name, (text, _, _) in DATA_CASES.items():
        encoding = "latin-1" if name == "latin1.csv" else "utf-8"
        (folder / name).write_bytes(text.encode(encoding))
    paths = ",".join(str(folder / name) for name in DATA_CASES)
    outputs = folder / "deep" / "down"
    options = ["-m", f"name={SWEEP_NAME}", "dataset=csv", "dataset.target=y", "debug=fast"]
    options += [f"dataset.path={paths}", "dataset.na_values=[unknown]"]
    result = run_module("train", options, store, shared_data, outputs)
    runs = {
        Path(run.data.params["dataset.path"]).name: run
        for run in store.runs(SWEEP_NAME)
        if "dataset.path" in run.data.params
    }
    return result, outputs, runs


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_a_bad_data_file_is_refused_or_repaired_loudly(data_sweep, case):
    result, _, runs = data_sweep
    _, status, message = DATA_CASES[case]
    assert result.returncode == 0  # a failing job ends its own run, not the sweep
    run = runs[case]
    assert run.info.status == status, run.data.tags.get("end_reason")
    if status == "FAILED":
        assert message in run.data.tags["end_reason"]
        assert "DataError" in run.data.tags["end_reason"]
    elif message is not None:
        assert message in result.output
    assert "Traceback" not in result.output


def test_markers_make_gaps_not_one_hot_columns(data_sweep):
    """The issue's case: a few `?` cells made 139 one-hot columns out of one number."""
    _, _, runs = data_sweep
    assert runs["markers_in_numbers.csv"].data.params["data/input_shape"] == "[1]"
    assert runs["a_word_among_numbers.csv"].data.tags["end_reason"].count("e.g. ['three']") == 1


def test_a_name_that_climbs_out_stays_one_folder_under_the_outputs(data_sweep):
    _, outputs, _ = data_sweep
    assert list(outputs.parents[1].rglob("bad_inputs")) == []
    sweeps = [path.name for path in (outputs / "outputs" / "multiruns").iterdir()]
    assert len(sweeps) == 1 and sweeps[0].endswith("_.._.._.._bad_inputs")


# --- options and inputs that each run alone: the exit code and one line -------------------

# overrides -> a line of the message; the config is refused before any run is opened
CONFIG_CASES = {
    "negative_gamma": (["scheduler=step", "scheduler.gamma=-1"], "scheduler.gamma=-1.0 would"),
    "zero_factor": (["scheduler=plateau", "scheduler.factor=0"], "scheduler.factor=0.0 would"),
    "negative_end": (["scheduler=linear", "scheduler.end_factor=-1"], "end_factor=-1.0 would"),
    "growth_below_one": (["trainer.max_loss_growth=0.5"], "max_loss_growth must be null or above"),
    "zero_lr": (["optimizer.lr=0"], "optimizer.lr must be positive, got 0.0"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_an_option_that_cannot_train_is_refused_before_a_run_is_opened(train, store, case):
    overrides, message = CONFIG_CASES[case]
    result = train(f"name=bad_{case}", *overrides, expect_success=False)
    assert result.returncode == 1
    assert message in result.output and "Traceback" not in result.output
    assert store.client().get_experiment_by_name(f"bad_{case}") is None


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
