"""The package's shape: no import cycle between modules or between business areas, domain rules
free of AWS, and handlers that only wire."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "omo2c"
STORAGE_LIBRARIES = ("boto3", "botocore", "pynamodb")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every import a module makes, at the top or inside a function (a lazy import is still an edge)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges[name] = {i for i in imports_of(path) if i in MODULES and i != name and MODULES[i].name != "__init__.py"}
    return edges


def area(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = defaultdict(int)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state[nxt] == 1:
                return [*stack[stack.index(nxt):], nxt]
            if state[nxt] == 0 and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if state[node] == 0 and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_itself_back_even_lazily():
    assert find_cycle(graph()) is None


def test_business_areas_depend_on_each_other_one_way():
    areas: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph().items():
        areas[area(module)].update(area(t) for t in targets if area(t) != area(module))
    assert find_cycle(dict(areas)) is None, dict(areas)


def test_only_the_composition_module_and_the_handlers_know_the_composition():
    users = {m for m, targets in graph().items() if "omo2c.wiring" in targets}
    assert users == set()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith((".storage", "__init__"))))
def test_domain_modules_leave_storage_libraries_to_the_adapters(module):
    adapters = {"omo2c.core.aws", "omo2c.core.dynamo", "omo2c.core.queues", "omo2c.core.bus",
                "omo2c.campaigns.schedules", "omo2c.channels.sms"}
    if module in adapters:
        return
    leaked = {i for i in imports_of(MODULES[module]) if i.split(".")[0] in STORAGE_LIBRARIES}
    assert not leaked, f"{module} imports {sorted(leaked)}; storage belongs in an area's storage module"


def test_handlers_only_wire():
    for handler in (ROOT / "functions").rglob("*.py"):
        tree = ast.parse(handler.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno < 30, f"{handler.name}:{node.name} is more than wiring"
        leaked = {i for i in imports_of(handler) if i.split(".")[0] in STORAGE_LIBRARIES}
        assert not leaked, f"{handler} imports {sorted(leaked)}"
