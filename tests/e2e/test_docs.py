"""The README and docs/ stay true: the generated results page is current, the README is
short, every relative link resolves, and every command in a ```bash block works.

Commands of `python -m ml_experiments.train` (and `evaluate`, `predict`) run with
`--cfg job` added: Hydra composes the config with all the command's overrides, checks
them against the schemas, and exits without training. A sweep (`-m`) cannot be
combined with `--cfg`, so each of its swept values is composed in a single run instead.
`compare`, `report` and `ui` need trained runs: their arguments are checked instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DATA_DIR = Path(os.environ.get("ML_EXPERIMENTS_DATA_DIR", ROOT.parent / "shared" / "data"))
README_MAX_LINES = 150

# Placeholders the docs may use in commands, and what the test puts in their place.
PLACEHOLDERS = {"<run_id>": "0123456789abcdef0123456789abcdef"}
COMPOSED = {"train", "evaluate", "predict"}  # Hydra apps: checked with --cfg job
# Commands that parse key=value arguments themselves: checked with their own parser.
PARSED = {"compare", "report"}
# Commands with their own --flags (argparse): each flag checked against their --help.
FLAGGED = {"ui", "server"}
# Arguments after which Hydra prints something and exits without training: run as written.
INFORMATIONAL = {"--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i"}
SEPARATORS = {"&&", "||", ";", "|"}
FENCE = re.compile(r"^\s*(```|~~~)")
BASH_FENCE = re.compile(r"^\s*```(bash|sh|shell|console)\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`[^`]*`")


@dataclass(frozen=True)
class Command:
    doc: str  # path from the project root
    line: int
    module: str  # train, evaluate, predict, compare, report, ui
    args: tuple[str, ...]

    @property
    def text(self) -> str:
        return shlex.join(["python", "-m", f"ml_experiments.{self.module}", *self.args])


# --- reading the docs ---------------------------------------------------------------


def shell_lines(path: Path) -> list[tuple[int, str]]:
    """The command lines of a Markdown file's bash blocks: (line number, text), lines
    ending in a backslash joined to the next, prompts dropped."""
    lines: list[tuple[int, str]] = []
    in_bash = in_other = False
    pending, start = "", 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not in_bash and not in_other:
            if BASH_FENCE.match(line):
                in_bash = True
            elif FENCE.match(line):
                in_other = True
            continue
        if FENCE.match(line):
            in_bash = in_other = False
            continue
        if in_other:
            continue
        text = re.sub(r"^\s*\$\s+", "", line) if not pending else line
        if not pending:
            start = number
        if text.rstrip().endswith("\\"):
            pending += text.rstrip()[:-1] + " "
            continue
        lines.append((start, pending + text))
        pending = ""
    return lines


def commands_in(path: Path) -> list[Command]:
    found = []
    for number, line in shell_lines(path):
        tokens = shlex.split(line, comments=True)
        segment: list[str] = []
        for token in [*tokens, ";"]:
            if token not in SEPARATORS:
                segment.append(token)
                continue
            if (
                len(segment) >= 3
                and Path(segment[0]).name.startswith("python")
                and segment[1] == "-m"
                and segment[2].startswith("ml_experiments.")
            ):
                module = segment[2].removeprefix("ml_experiments.")
                doc = path.relative_to(ROOT).as_posix()
                found.append(Command(doc, number, module, tuple(segment[3:])))
            segment = []
    return found


def all_commands() -> list[Command]:
    return [command for path in DOCS for command in commands_in(path)]


# --- running them ---------------------------------------------------------------------


def substituted(command: Command) -> tuple[list[str], str | None]:
    """The command's arguments with placeholders filled in, and an error for a
    placeholder the test does not know."""
    args = []
    for arg in command.args:
        for placeholder, value in PLACEHOLDERS.items():
            arg = arg.replace(placeholder, value)
        if "<" in arg or ">" in arg:
            return [], (
                f"{command.doc}:{command.line}: a placeholder the test does not know in "
                f"`{command.text}` ({arg!r}); the docs write placeholders as one of "
                f"{sorted(PLACEHOLDERS)}"
            )
        args.append(arg)
    return args, None


def split_top_level(value: str) -> list[str]:
    """Split a sweep's value on the commas outside brackets and quotes."""
    parts, depth, quote, current = [], 0, "", ""
    for char in value:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]


def single_runs(args: list[str]) -> list[list[str]]:
    """A multirun's arguments as single runs that between them use every swept value:
    run i takes value i (cycling) of every swept key."""
    fixed: list[str] = []
    swept: list[tuple[str, list[str]]] = []
    for arg in args:
        if arg in ("-m", "--multirun"):
            continue
        key, equals, value = arg.partition("=")
        choice = re.fullmatch(r"choice\((.*)\)", value)
        values = split_top_level(choice.group(1) if choice else value) if equals else [value]
        if equals and not arg.startswith("-") and len(values) > 1:
            swept.append((key, [item.strip() for item in values]))
        else:
            fixed.append(arg)
    count = max((len(values) for _, values in swept), default=1)
    return [
        fixed + [f"{key}={values[index % len(values)]}" for key, values in swept]
        for index in range(count)
    ]


Invocation = tuple[str, tuple[str, ...]]  # (module, arguments)


def invocations(command: Command) -> list[Invocation]:
    """The processes that check a command: for a Hydra app, the command with --cfg job
    (a sweep: one per single run); for ui and server, their --help; for compare and
    report, none."""
    args, error = substituted(command)
    if error:
        return []
    if command.module in FLAGGED:
        return [(command.module, ("--help",))]
    if command.module not in COMPOSED:
        return []
    multirun = "-m" in args or "--multirun" in args
    runs = []
    for single in single_runs(args) if multirun else [args]:
        if not INFORMATIONAL.intersection(single):
            single = [*single, "--cfg", "job"]
        runs.append((command.module, tuple(single)))
    return runs


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path_factory.mktemp('docs')}/mlflow.db"
    env["ML_EXPERIMENTS_DATA_DIR"] = str(DATA_DIR)
    return env


def run(invocation: Invocation, env: dict[str, str]) -> subprocess.CompletedProcess:
    module, args = invocation
    return subprocess.run(
        [sys.executable, "-m", f"ml_experiments.{module}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def finished(request, environment) -> dict[Invocation, subprocess.CompletedProcess]:
    """Every process the selected command tests need, each distinct one run once, a few
    at a time: each is a Python start-up of about half a second."""
    selected = [
        item.callspec.params["command"]
        for item in request.session.items
        if item.module is sys.modules[__name__]
        and "command" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    needed = sorted({run for command in selected for run in invocations(command)})
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        results = pool.map(lambda invocation: run(invocation, environment), needed)
        return dict(zip(needed, results, strict=True))


def check_composes(command: Command, finished) -> None:
    for invocation in invocations(command):
        result = finished[invocation]
        if result.returncode != 0:
            pytest.fail(
                f"{command.doc}:{command.line}: `{command.text}` does not compose.\n"
                f"ran: python -m ml_experiments.{invocation[0]} {shlex.join(invocation[1])}\n"
                f"exit code {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}",
                pytrace=False,
            )


def check_parsed(command: Command) -> None:
    """compare and report take key=value arguments into a dataclass: parse them."""
    import importlib

    from ml_experiments.errors import UserError

    args, _ = substituted(command)
    parse_options = importlib.import_module(f"ml_experiments.{command.module}").parse_options
    try:
        parse_options(args)
    except UserError as error:
        pytest.fail(f"{command.doc}:{command.line}: `{command.text}`: {error}", pytrace=False)


def check_flags(command: Command, finished) -> None:
    (invocation,) = invocations(command)
    result = finished[invocation]
    assert result.returncode == 0, result.stdout + result.stderr
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", result.stdout))
    args, _ = substituted(command)
    for arg in args:
        flag = arg.partition("=")[0]
        if flag.startswith("-"):
            assert flag in flags, (
                f"{command.doc}:{command.line}: `{command.text}`: {command.module} has no {flag} "
                f"(it takes {', '.join(sorted(flags))})"
            )


COMMANDS = all_commands()


def test_the_docs_show_commands_of_every_module():
    modules = {command.module for command in COMMANDS}
    assert modules == COMPOSED | PARSED | FLAGGED, modules


@pytest.mark.parametrize(
    "command", COMMANDS, ids=[f"{command.doc}:{command.line}" for command in COMMANDS]
)
def test_command_in_docs_works(command: Command, finished):
    _, error = substituted(command)
    if error:
        pytest.fail(error, pytrace=False)
    if command.module in COMPOSED:
        check_composes(command, finished)
    elif command.module in PARSED:
        check_parsed(command)
    elif command.module in FLAGGED:
        check_flags(command, finished)
    else:
        pytest.fail(
            f"{command.doc}:{command.line}: no such command: ml_experiments.{command.module}"
        )


# --- the pages themselves -------------------------------------------------------------


def test_results_page_is_generated_from_bench_results():
    spec = importlib.util.spec_from_file_location("results_page", ROOT / "bench/results_page.py")
    results_page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(results_page)
    page = ROOT / "docs" / "results.md"
    assert page.is_file(), "docs/results.md is missing: run python bench/results_page.py"
    assert page.read_text() == results_page.render(ROOT), (
        "docs/results.md is not what bench/results_page.py makes of bench/results/ now: "
        "run python bench/results_page.py"
    )


def test_readme_is_short():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    anchors, in_code = set(), False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def relative_links(path: Path) -> list[tuple[int, str]]:
    links, in_code = [], False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(1)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                links.append((number, target))
    return links


@pytest.mark.parametrize("doc", DOCS, ids=[path.relative_to(ROOT).as_posix() for path in DOCS])
def test_relative_links_resolve(doc: Path):
    broken = []
    for number, target in relative_links(doc):
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.exists():
            broken.append(f"line {number}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
            broken.append(f"line {number}: {target} (no heading #{anchor})")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)
