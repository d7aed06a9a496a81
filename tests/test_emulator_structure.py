"""The emulator package stays small and layered: no module over 400 lines, no import cycle inside it.

Imports are read from the source (every ``import`` and ``from ... import`` anywhere in a module:
at the top, inside functions, under ``TYPE_CHECKING``), so a cycle hidden in a function-level
import counts as much as one at module level.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "connector.emulators"
ROOT = Path(__file__).resolve().parent.parent / "connector" / "emulators"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    return {(PACKAGE if p.stem == "__init__" else f"{PACKAGE}.{p.stem}"): p for p in sorted(ROOT.glob("*.py"))}


def _internal_imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, wherever in the module the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from connector.emulators import x`` names a module x; ``from connector.emulators.x import y``
            # names x (y is an attribute, or a submodule: either way x is imported first).
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level:
            pytest.fail(f"{path.name}: relative import (line {node.lineno}); the package uses absolute imports")
        else:
            continue
        found |= {n for n in names if n in known}
    return found - {PACKAGE}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _internal_imports(path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
            if len(component) > 1 or v in graph[v]:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_emulator_module_is_over_400_lines():
    long = {p.name: n for p in _modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these by responsibility (limit {MAX_LINES} lines): {long}"


def test_the_emulator_package_has_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles inside connector/emulators: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    # The check itself can fail: two modules that import each other, one of them only inside a function.
    (tmp_path / "a.py").write_text("from connector.emulators import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from connector.emulators.a import g\n")
    known = {f"{PACKAGE}.a", f"{PACKAGE}.b"}
    graph = {f"{PACKAGE}.{m}": _internal_imports(tmp_path / f"{m}.py", known) for m in ("a", "b")}
    assert _cycles(graph) == [[f"{PACKAGE}.a", f"{PACKAGE}.b"]]


def test_the_checks_read_the_real_package():
    assert len(_modules()) > 10 and f"{PACKAGE}.coverbase_app" in _modules()
