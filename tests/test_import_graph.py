"""The package's import graph (issue #23): no two modules import each other, directly or round a
circle, and the core never imports a starter (starter.questions, starter.public) or the CLI.

Every import counts, those inside functions too: a lazy import still ties two modules together.
Imports under `if TYPE_CHECKING:` count as well (annotations are part of a module's interface).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("starter", "sitekit")
# The layers above the core: the core may not import them (the command layer looks a starter up
# through starter.registry and hands it down).
ABOVE_CORE = ("starter.questions", "starter.public", "starter.commands", "starter.cli")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The repository modules `name` imports (a name imported from a package resolves to its
    submodule where there is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            wanted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            wanted = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in wanted:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_another_round_a_circle():
    assert _cycles(_graph()) == [], (
        "modules import each other: move what both need into a module below them "
        "(as starter/sampling.py holds what rollouts and the OpenAI backend share)")


def test_the_core_imports_no_starter_and_no_cli():
    above = tuple(ABOVE_CORE)
    wrong = {name: sorted(t for t in targets if t.startswith(above))
             for name, targets in _graph().items()
             if name.startswith("starter.") and not name.startswith(above)}
    wrong = {name: targets for name, targets in wrong.items() if targets}
    assert wrong == {}, (
        "core modules import a starter or the CLI: look starters up through starter.registry "
        "(load, identity) or let the command layer hand them down")
