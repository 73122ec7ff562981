"""The layout's rules, enforced: no import cycle among the project's modules, and each package imports only
what its concept allows (read from the source, so the test runs in either environment)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from import_graph import PACKAGES, REPO, ImportGraph, build_graph  # tests/architecture is on sys.path

STDLIB = set(sys.stdlib_module_names) | {"__future__"}
# package -> the project packages and third-party modules it may import (the standard library always)
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "parity_format": ({"parity_format"}, {"numpy"}),
    "comparison": ({"comparison", "parity_format"}, {"numpy"}),
    "torch_hooks": ({"torch_hooks", "parity_format"}, {"numpy", "torch"}),
    "sources": ({"sources", "parity_format"}, {"numpy", "huggingface_hub"}),
    "artifact_tools": ({"artifact_tools", "parity_format", "comparison"}, {"numpy"}),
}
NEVER: dict[str, set[str]] = {  # the two sides never import each other, nor the other side's implementation
    "producer": {"consumer", "lerobot"},
    "consumer": {"producer", "gr00t"},
    # make coverage's report reads coverage.py's JSON (consumer env); scope.py runs in both: neither side
    "path_coverage": {"consumer", "producer", "lerobot", "gr00t", "torch", "numpy"},
}
HEAVY = {"torch", "huggingface_hub", "transformers", "lerobot", "gr00t", "matplotlib"}
SHARED = tuple(ALLOWED)


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return build_graph()


def test_the_graph_sees_every_package(graph: ImportGraph) -> None:
    assert {m.split(".")[0] for m in graph.modules} == set(PACKAGES)
    assert "consumer.checks.base" in graph.edges["consumer.checks.model"]  # a real edge is read


def test_no_import_cycle_among_the_projects_modules(graph: ImportGraph) -> None:
    assert graph.cycles() == []


def test_a_cycle_is_found_wherever_the_import_stands(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("def thing():\n    from . import a  # inside a function still counts\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n")
    assert build_graph(tmp_path, ("pkg",)).cycles() == [["pkg.a", "pkg.b"]]


@pytest.mark.parametrize("package", SHARED)
def test_shared_packages_import_only_what_their_concept_allows(graph: ImportGraph, package: str) -> None:
    project, third_party = ALLOWED[package]
    wrong = []
    for module in (m for m in graph.modules if m.split(".")[0] == package):
        wrong += [f"{module} -> {t}" for t in graph.edges[module] if t.split(".")[0] not in project]
        wrong += [f"{module} -> {e}" for e in graph.external[module] if e not in STDLIB | third_party]
    assert wrong == []


@pytest.mark.parametrize("package", sorted(NEVER))
def test_the_two_sides_never_import_each_other(graph: ImportGraph, package: str) -> None:
    wrong = [
        f"{module} -> {name}"
        for module in graph.modules
        if module.split(".")[0] == package
        for name in {t.split(".")[0] for t in graph.edges[module]} | graph.external[module]
        if name in NEVER[package]
    ]
    assert wrong == []


def module_level_imports(path: Path) -> set[str]:
    """Top-level names imported when the module is imported (not inside functions or TYPE_CHECKING)."""
    names: set[str] = set()

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)

    walk(ast.parse(path.read_text(encoding="utf-8")).body)
    return names


@pytest.mark.parametrize("package", SHARED)
def test_shared_packages_import_heavy_libraries_only_inside_the_functions_that_need_them(package: str) -> None:
    """The artifact format and the comparison load with numpy alone, in either environment."""
    eager = {
        f"{path.relative_to(REPO)}: {name}"
        for path in sorted((REPO / package).rglob("*.py"))
        for name in module_level_imports(path) & HEAVY
    }
    assert eager == set()
