"""The package's import graph: no circle between modules, and every arrow between parts points down.

Read from the source (an AST walk, no import runs): every ``import laser_plugin...`` counts, also the
ones inside functions (a circle hidden behind a function-level import is still a circle), except those
under ``if TYPE_CHECKING:`` (never executed). A new circle or upward arrow fails here with its path.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import laser_plugin

ROOT = Path(laser_plugin.__file__).resolve().parent

# Parts of the package, bottom (0) to top: a part may import only parts of a lower level.
LEVELS = {
    "version": 0, "cli_fields": 0, "records": 0, "compat": 0, "core": 0, "signals": 0, "analysis": 0, "eval": 0,
    "": 1,  # laser_plugin/__init__.py: the public names of the core
    "config": 1, "demo": 1,
    "pool": 2,
    "router": 3, "dpo": 3,
    "adapters": 4,
    "quickstart": 5, "commands": 6, "cli": 6,
    "testing": 7, "launch": 8,
}
# Known upward arrows, to be removed, each with where it is. Nothing may be added here.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = ["laser_plugin", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", getattr(child.test, "attr", None)) == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}

    def resolve(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]  # a submodule, or a name in node.module
            else:
                continue
            for target in targets:
                if target.startswith("laser_plugin"):
                    resolved = resolve(target)
                    if resolved != name:
                        graph[name].add(resolved)
        graph.setdefault(name, set())
    return graph


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle_between_modules():
    assert _circles(import_graph()) == []


def test_every_part_has_a_level():
    parts = {_part(m) for m in import_graph()}
    assert parts <= set(LEVELS), f"give these parts a level in LEVELS: {sorted(parts - set(LEVELS))}"


def test_arrows_between_parts_point_down():
    upward = {}
    for module, targets in import_graph().items():
        for target in targets:
            a, b = _part(module), _part(target)
            if a != b and LEVELS.get(b, -1) >= LEVELS.get(a, -1):
                upward.setdefault((a, b), []).append(f"{module} -> {target}")
    unknown = {k: v for k, v in upward.items() if k not in KNOWN_UPWARD}
    assert not unknown, f"upward imports (a part may import only lower levels): {unknown}"
    gone = set(KNOWN_UPWARD) - set(upward)
    assert not gone, f"no longer upward, remove from KNOWN_UPWARD: {sorted(gone)}"


def test_the_checker_sees_a_circle_hidden_in_a_function(tmp_path):
    graph = {"laser_plugin.a": {"laser_plugin.b"}, "laser_plugin.b": {"laser_plugin.a"}, "laser_plugin.c": set()}
    assert _circles(graph) == [["laser_plugin.a", "laser_plugin.b"]]
    source = "def f():\n    import laser_plugin.core\nif TYPE_CHECKING:\n    import laser_plugin.pool\n"
    names = [n.names[0].name for n in _runtime_nodes(ast.parse(source)) if isinstance(n, ast.Import)]
    assert names == ["laser_plugin.core"]
