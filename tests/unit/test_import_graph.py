"""The import graph of ``plugins/mlpipe``: no cycle, and imports run one way.

config -> lake -> services -> local engines -> tasks -> dagkit -> stacks (-> the DAG files), with the
shared leaves (errors, defaults, paths, naming) below everything. Every import counts, module-level or
inside a function, ``TYPE_CHECKING`` ones excepted (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
INCLUDE = Path(__file__).resolve().parents[2] / "include"

# the layer of each package or module (the longest matching prefix wins); lower layers never import higher ones
LAYERS = {
    "mlpipe": 0, "mlpipe.errors": 0, "mlpipe.defaults": 0, "mlpipe.paths": 0, "mlpipe.naming": 0,
    "mlpipe.config": 1,
    "mlpipe.lake": 2, "mlpipe.manifest": 2, "mlpipe.quarantine": 2,
    "mlpipe.services": 3,
    "mlpipe.local": 4, "mlpipe.sample": 4,
    "mlpipe.tasks": 5,
    "mlpipe.dagkit": 6,
    "mlpipe.stacks": 7,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PLUGINS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_names(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_block(node):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PLUGINS.joinpath("mlpipe").rglob("*.py")}
    return {name: {m for m in imported_names(path, name) if m in modules and m != name}
            for name, path in modules.items()}


def layer(module: str) -> int:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_imports_run_one_way() -> None:
    wrong = sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
                   for a, targets in import_graph().items() for b in targets if layer(b) > layer(a))
    assert wrong == []


def test_every_module_has_a_layer() -> None:
    assert all(layer(m) >= 0 for m in import_graph())


def test_task_bodies_never_reach_a_stack() -> None:
    graph = import_graph()
    offenders = sorted(m for m, targets in graph.items() if m.startswith("mlpipe.tasks")
                       for t in targets if t.startswith("mlpipe.stacks"))
    assert offenders == []


@pytest.mark.parametrize("path", sorted(INCLUDE.rglob("*.py")), ids=lambda p: str(p.relative_to(INCLUDE)))
def test_workload_code_imports_neither_airflow_nor_the_library(path: Path) -> None:
    names = imported_names(path, "include")
    assert not {n for n in names if n.split(".")[0] in {"airflow", "mlpipe"}}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
