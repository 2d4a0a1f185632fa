"""The project's modules import each other without a cycle, counting imports made inside functions."""

import ast
from graphlib import CycleError, TopologicalSorter

import pytest

from .conftest import ROOT

PACKAGES = ("keicast", "flows", "models")


def project_imports(root=ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its file (top level or inside a function)."""
    files = {
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
        for package in PACKAGES
        for p in (root / package).rglob("*.py")
    }

    def module(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {module(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found |= {module(f"{node.module}.{a.name}") for a in node.names}
        graph[name] = {m for m in found if m and m != name}
    return graph


def test_no_import_cycle_among_project_modules():
    graph = project_imports()
    assert {"keicast.register", "keicast.config", "keicast.articles"} <= set(graph)
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_a_cycle_would_be_found():
    graph = project_imports()
    graph["keicast.register"] = graph["keicast.register"] | {"keicast.config"}  # config imports register
    with pytest.raises(CycleError):
        TopologicalSorter(graph).prepare()
