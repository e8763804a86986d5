"""The product's top-level packages form layers: each imports only those below it, so the import graph
between them has no cycle; inside ``services`` the parts (api, index, query, engine, ...) import each
other without a cycle too. Every import counts, also one inside a function or under TYPE_CHECKING."""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Bottom to top: kernel (errors, paging, handlers, language) ← connectors (the sources and the sync
# runner) ← services (engine, index, query, data sources, database, web) ← analytics ← kensaku (the app).
LAYERS = ("kernel", "connectors", "services", "analytics", "kensaku")


def package_imports(root: Path, packages: tuple[str, ...]) -> dict[tuple[str, str], list[str]]:
    """(importer, imported) → the places (``file:line``) where one top-level package imports another."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in packages and top != package:
                        found[(package, top)].append(f"{path.relative_to(root)}:{node.lineno}")
    return dict(found)


def upward_imports(root: Path, layers: tuple[str, ...]) -> dict[tuple[str, str], list[str]]:
    """The imports of a package from one above it (or beside it) in ``layers``: the edges a cycle needs."""
    rank = {package: i for i, package in enumerate(layers)}
    return {edge: places for edge, places in package_imports(root, layers).items() if rank[edge[1]] >= rank[edge[0]]}


def test_each_package_imports_only_the_layers_below_it() -> None:
    assert upward_imports(REPO, LAYERS) == {}


def test_every_top_level_package_is_in_a_layer() -> None:
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "bench", "web", "tools"}
    assert packages == set(LAYERS)


def test_the_wheel_and_the_image_hold_every_package() -> None:
    """pyproject.toml's package list and the Dockerfile's COPY lines name every layer (the image is not
    built where Kensaku is developed, so a package missing there would show first in production)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert set(pyproject["tool"]["setuptools"]["packages"]["find"]["include"]) == {f"{p}*" for p in LAYERS}
    copied = {line.split()[1] for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")}
    assert set(LAYERS) <= copied


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    for package, source in (("low", "def f() -> None:\n    from high.mod import g\n"),
                            ("high", "import low\n")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / "mod.py").write_text(source)
    assert upward_imports(tmp_path, ("low", "high")) == {("low", "high"): ["low/mod.py:2"]}


def part_imports(root: Path, package: str) -> dict[str, set[str]]:
    """part -> the other parts it imports, for the parts of ``package`` (its subpackages and modules)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted((root / package).rglob("*.py")):
        part = path.relative_to(root / package).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                     else [])
            for name in names:
                top, _, rest = name.partition(".")
                if top == package and rest and rest.split(".")[0] != part:
                    found[part].add(rest.split(".")[0])
    return dict(found)


def a_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` (its nodes in order, the first again at the end), or [] when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_parts_of_services_import_each_other_without_a_cycle() -> None:
    graph = part_imports(REPO, "services")
    assert {"index", "engine"} <= graph["query"]  # the graph was read
    assert a_cycle(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert a_cycle({"api": {"index"}, "index": {"engine"}, "engine": set()}) == []
    assert a_cycle({"api": {"index"}, "index": {"engine", "datasources"}, "datasources": {"index"}}) == [
        "index", "datasources", "index"]
