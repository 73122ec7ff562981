"""The project's own import graph, read from the source with ``ast`` (nothing is imported).

Every ``import`` counts, wherever it stands: at module level, inside a function, or under
``if TYPE_CHECKING``. A function-level import still ties two modules together, and hiding a cycle
inside a function is how cycles survive reviews.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (
    "parity_format",
    "comparison",
    "torch_hooks",
    "sources",
    "artifact_tools",
    "consumer",
    "producer",
    "path_coverage",
)


@dataclass
class ImportGraph:
    modules: dict[str, Path] = field(default_factory=dict)  # dotted name -> file
    edges: dict[str, set[str]] = field(default_factory=dict)  # project module -> project modules it imports
    external: dict[str, set[str]] = field(default_factory=dict)  # project module -> top-level external names

    def cycles(self) -> list[list[str]]:
        """Strongly connected components of more than one module, or a module importing itself (Tarjan)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(node: str) -> None:
            index[node] = low[node] = len(index)
            stack.append(node)
            on_stack.add(node)
            for nxt in sorted(self.edges.get(node, ())):
                if nxt not in index:
                    visit(nxt)
                    low[node] = min(low[node], low[nxt])
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in self.edges.get(node, ()):
                    found.append(sorted(component))

        for node in sorted(self.modules):
            if node not in index:
                visit(node)
        return found


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def build_graph(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> ImportGraph:
    graph = ImportGraph()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            graph.modules[module_name(path, root)] = path
    for module, path in graph.modules.items():
        targets: set[str] = set()
        external: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, path.name == "__init__.py", node)
                # ``from pkg import sub`` imports the submodule pkg.sub when there is one
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in graph.modules else base for a in node.names]
            for name in names:
                target = _project_module(name, graph.modules)
                if target is None:
                    external.add(name.split(".")[0])
                elif target != module:
                    targets.add(target)
        graph.edges[module] = targets
        graph.external[module] = external
    return graph


def _project_module(name: str, modules: dict[str, Path]) -> str | None:
    """The longest project module that ``name`` is or lies inside; None for anything outside the project."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None
