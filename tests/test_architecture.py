"""The package's import structure (issue 28): no module imports another in a cycle — imports
inside functions included, since a function-local import only hides a cycle — and the execution
package imports no domain module. Read from the source with :mod:`ast`, so nothing is executed."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import networkx as nx
import pytest

PKG = Path(__file__).resolve().parents[1] / "toedit_stats"


def _module(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The package module that ``name`` (a dotted import target) is, or lives in."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> nx.DiGraph:
    """Module -> module for every import of the package by the package (any nesting level)."""
    files = {_module(p): p for p in PKG.rglob("*.py")}
    modules = set(files)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        base = mod if is_pkg else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    root = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    root = node.module or ""
                # `from pkg import sub` imports the submodule sub when there is one
                targets = [f"{root}.{a.name}" if f"{root}.{a.name}" in modules else root for a in node.names]
            for t in targets:
                hit = _resolve(t, modules)
                if hit and hit != mod:
                    graph.add_edge(mod, hit)
    return graph


def test_no_import_cycles():
    graph = import_graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_execution_imports_no_domain_module():
    graph = import_graph()
    allowed = {"toedit_stats.errors", "toedit_stats._deps", "toedit_stats.options"}  # infrastructure
    for mod in graph:
        if mod.startswith("toedit_stats.execution"):
            bad = [
                t
                for t in graph.successors(mod)
                if not t.startswith("toedit_stats.execution") and t not in allowed
            ]
            assert not bad, f"{mod} imports domain modules {bad}"


def test_the_scanner_sees_function_local_cycles(tmp_path, monkeypatch):
    """The check can fail: two modules that import each other inside functions form a cycle."""
    pkg = tmp_path / "toedit_stats"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .b import g\n")
    (pkg / "b.py").write_text("def g():\n    from toedit_stats import a\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", pkg)
    cycles = [c for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert cycles == [{"toedit_stats.a", "toedit_stats.b"}]


if __name__ == "__main__":  # pragma: no cover - a developer's view of the cycles
    for c in nx.strongly_connected_components(import_graph()):
        if len(c) > 1:
            print(sorted(c))
    pytest.main([__file__])
