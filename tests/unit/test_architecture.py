"""The package's layers (docs/architecture.md): a module imports only from its own layer
or below, reporting never touches MLflow, and no two modules import each other in a ring.

Every import counts, at module top or inside a function: a function-local import is
still a dependency, only a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "ml_experiments"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE
COMMANDS = ("train", "evaluate", "predict", "compare", "report", "ui", "server", "callbacks",
            "optuna_sweeper")  # fmt: skip
# Lowest first: the first part of a module's name below the package decides its layer.
LAYERS = [
    ("errors", "paths"),
    ("config", "data"),
    ("engine", "models", "tuning"),
    ("tracking", "reporting"),
    ("experiment", "sweeps"),
    COMMANDS,
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The layer of a package module; the package's own __init__ is at the bottom."""
    if module == PACKAGE:
        return 0
    part = module.split(".")[1]
    return next(index for index, names in enumerate(LAYERS) if part in names)


def imported_names(module: str) -> set[str]:
    """Every module name `module` imports, absolute, wherever the import statement is."""
    tree = ast.parse(MODULES[module].read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = _absolute(node, module)
            names.add(base)
            # `from ml_experiments.tracking import store` imports the module `store`.
            names |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
    return names


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module
    is_package = MODULES[module].name == "__init__.py"
    anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
    return ".".join([*anchor, node.module])


def package_imports(module: str) -> set[str]:
    return {name for name in imported_names(module) if name in MODULES and name != module}


def test_every_module_has_a_layer():
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except StopIteration:
            unplaced.append(module)
    assert not unplaced, f"add these to LAYERS and to docs/architecture.md: {unplaced}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_or_below(module):
    upward = sorted(name for name in package_imports(module) if layer_of(name) > layer_of(module))
    assert not upward, f"{module} (layer {layer_of(module)}) imports higher layers: {upward}"


def test_reporting_never_imports_mlflow():
    offenders = {
        module: sorted(name for name in imported_names(module) if name.split(".")[0] == "mlflow")
        for module in MODULES
        if module.startswith(f"{PACKAGE}.reporting")
    }
    assert not {module: names for module, names in offenders.items() if names}


def test_errors_and_paths_import_only_the_standard_library():
    for module in (f"{PACKAGE}.errors", f"{PACKAGE}.paths"):
        third_party = {
            name.split(".")[0] for name in imported_names(module) if not name.startswith(PACKAGE)
        }
        assert not third_party - set(_standard_library()), (module, third_party)


def _standard_library() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names) | {"__future__"}


def test_no_import_cycles():
    graph = {module: package_imports(module) for module in MODULES}
    cycles = [component for component in _strongly_connected(graph) if len(component) > 1]
    assert not cycles, f"modules that import each other in a ring: {cycles}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: each group of modules reachable from one another."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            components.append(sorted([*component, node]))

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_the_checks_see_a_violation():
    """The walker finds function-local and relative imports, so the rules above bite."""
    sample = f"{PACKAGE}.models.transfer"
    assert f"{PACKAGE}.engine.checkpoint" in package_imports(sample)  # imported in a function
    assert _strongly_connected({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"], ["c"]]


def test_the_layers_here_are_the_layers_in_the_docs():
    """docs/architecture.md's table of layers lists the same names, in the same order."""
    page = (PACKAGE_DIR.parent / "docs" / "architecture.md").read_text()
    rows = [
        line.split("|")[2]
        for line in page.splitlines()
        if line[:4] in {f"| {n} " for n in "012345"}
    ]
    documented = [tuple(name.strip("`/ ") for name in row.split(",")) for row in rows]
    assert documented == [tuple(layer) for layer in LAYERS]
