"""The modules' layers: no import circle among curator's and samplers' modules, counting the
imports inside functions too (a circle hidden in a function is still a circle), and the
decisions on arrays (curator.flags) import no other curator module but the errors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("curator", "samplers")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The project's modules that ``path`` imports anywhere in it (TYPE_CHECKING blocks too,
    though they do not run: a type's module is a dependency of the design)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    edges = {}
    for name, path in mods.items():
        # a package imports its own submodules; the submodules' imports of the package
        # itself (``from curator import store``) are what could close a circle
        edges[name] = {m for m in imports(path, known)
                       if m != name and not m.startswith(name + ".")}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_finder_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("pair", [("curator.flags", "curator.scores"),
                                  ("curator.flags", "curator.pruning"),
                                  ("curator.flags", "curator.store")])
def test_the_array_layer_reads_no_file(pair: tuple[str, str]) -> None:
    low, high = pair
    assert high not in graph()[low]


def test_no_import_circle() -> None:
    edges = graph()
    assert "curator.flags" in edges and edges["curator.flags"] <= {"curator.errors"}
    # curator/__init__ re-exports the public API from every layer: leave it out
    edges = {k: {m for m in v if m not in PACKAGES} for k, v in edges.items()
             if k not in PACKAGES}
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])
