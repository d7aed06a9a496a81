"""Imports run one way: assets -> sync (and the write-back) -> sources -> API clients -> http, with the
shared pieces (records, state, configuration, files, errors, deadline, workers) below all of them;
no cycle between the top-level packages of connector/, and no Dagster import in connector/.

The graph is read from the source (every ``import`` and ``from … import``, at module level and
inside functions), so a lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONNECTOR = REPO / "connector"

# Which top-level parts of connector/ may import which. A part not named here may import only the
# shared bottom (BOTTOM) and parts below it in this table.
BOTTOM = {"errors", "deadline", "workers", "canonical", "state", "config", "files", "record_repairs", "progress",
          "explain", "settings"}
LAYERS = {  # part: the parts it must never import
    "http": {"servicenow", "coverbase", "sources", "sync", "writeback", "webhooks", "doctor", "emulators"},
    "servicenow": {"coverbase", "sources", "sync", "writeback", "webhooks", "doctor", "emulators"},
    "coverbase": {"servicenow", "sources", "sync", "writeback", "webhooks", "doctor", "emulators"},
    "sources": {"sync", "writeback", "webhooks", "doctor", "emulators"},
    "sync": {"writeback", "webhooks", "doctor", "emulators"},
    "writeback": {"doctor", "emulators"},
    "webhooks": {"sync", "writeback", "doctor", "emulators"},
}


def _part(module: str) -> str | None:
    bits = module.split(".")
    return bits[1] if len(bits) > 1 and bits[0] == "connector" else None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in CONNECTOR.rglob("*.py"):
        rel = path.relative_to(REPO).with_suffix("")
        part = rel.parts[1] if len(rel.parts) > 1 else None
        if part is None or part in ("__main__", "__init__"):
            continue
        graph.setdefault(part, set())
        for module in _imports(path):
            other = _part(module)
            is_part = other is not None and ((CONNECTOR / other).is_dir() or (CONNECTOR / f"{other}.py").is_file())
            if is_part and other != part and other not in ("__main__", "__init__"):
                graph[part].add(other)
    return graph


def test_no_cycle_between_the_top_level_parts_of_connector():
    graph = _graph()
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle between parts of connector/: {' -> '.join(exc.args[1])}") from None


def test_each_layer_imports_only_downward():
    graph = _graph()
    wrong = sorted((part, other) for part, forbidden in LAYERS.items() for other in graph.get(part, ())
                   if other in forbidden)
    assert not wrong, f"imports against the layering: {wrong}"


def test_the_shared_bottom_imports_no_layer_above_it():
    graph = _graph()
    above = {"sources", "sync", "writeback", "webhooks", "doctor", "emulators", "demo", "demo_ui"}
    wrong = sorted((part, other) for part in BOTTOM for other in graph.get(part, ()) if other in above)
    assert not wrong, f"shared modules importing a higher layer: {wrong}"


def test_connector_has_no_dagster_import():
    users = [str(p.relative_to(REPO)) for p in CONNECTOR.rglob("*.py")
             if any(m == "dagster" or m.startswith("dagster.") for m in _imports(p))]
    assert not users, f"connector/ is a library without Dagster: {users}"
