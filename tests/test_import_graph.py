"""The project's modules import each other without a cycle, counting imports made inside functions."""

import ast
import re
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


# ---------------------------------------------------------------------------------------------- house rules
SQL = re.compile(r"\b(select\s.+\sfrom|insert\s+into|update\s+\w+\s+set|delete\s+from|create\s+table)\b", re.I | re.S)
MAX_FUNCTION_LINES = 50
MAX_FLOW_LINES = 40


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text())


def _sql_strings(tree: ast.AST) -> list[int]:
    """Lines of string constants that read as SQL statements; a command's help text may show an example."""
    helps = {id(k.value) for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "help"}
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in helps
        and SQL.search(node.value)
    ]


def test_no_sql_outside_the_warehouse_module():
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path, tree in _sources()
        if path != ROOT / "keicast" / "warehouse.py"
        for line in _sql_strings(tree)
    ]
    assert not found, found
    assert _sql_strings(ast.parse('con.execute("select run_id from runs")')) == [1]


def test_no_function_is_longer_than_a_screen():
    long = [
        f"{path.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long


def _flow_body() -> list[ast.stmt]:
    tree = ast.parse((ROOT / "flows" / "pipeline.py").read_text())
    flow = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "keicast_pipeline")
    body = flow.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return body


def _flat(statement: ast.stmt) -> bool:
    """A call of a step by name with plain values (names, attributes, constants), kept or returned."""
    if isinstance(statement, ast.Return):
        return isinstance(statement.value, ast.Name | ast.Attribute)
    value = statement.value if isinstance(statement, ast.Assign | ast.Expr) else None
    if isinstance(statement, ast.Assign) and not all(isinstance(t, ast.Name) for t in statement.targets):
        return False
    plain = (ast.Name, ast.Attribute, ast.Constant)
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and all(isinstance(a, plain) for a in value.args)
        and all(isinstance(k.value, plain) for k in value.keywords)
    )


def test_the_flow_is_a_flat_table_of_contents():
    body = _flow_body()
    lines = body[-1].end_lineno - body[0].lineno + 1
    assert lines <= MAX_FLOW_LINES, f"keicast_pipeline's body is {lines} lines"
    odd = [ast.unparse(s).splitlines()[0] for s in body if not _flat(s)]
    assert not odd, f"not a step call with plain values: {odd}"


def test_a_nested_statement_in_the_flow_would_be_found():
    nested = ast.parse("with lock():\n    x = step(a)\n").body[0]
    filled = ast.parse("step(settings, {'a': 1})").body[0]
    assert not _flat(nested) and not _flat(filled) and _flat(ast.parse("x = step(a, b.c, 3)").body[0])


def test_every_module_has_a_test_module_in_the_mirrored_folder():
    missing = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__init__.py":
                continue
            relative = path.relative_to(ROOT)
            folder = ROOT / "tests" / relative.parent
            if not (folder / f"test_{path.stem}.py").is_file():
                missing.append(str(relative))
    assert not missing, f"no test module for: {missing}"
