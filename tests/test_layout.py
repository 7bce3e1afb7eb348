"""The package's shape: one namespace mapped from the repository's folders, a core that knows
no plugin and no demo, plugins that use each other only through the registry, and no import
cycles. Read from the source (import statements), so a lazy import counts too."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
PACKAGE_DIRS: dict[str, str] = PYPROJECT["package-dir"]
OLD_NAMES = {"toolkit", "plugins", "demo", "prompts", "chains", "adapters"}


def module_files() -> dict[str, Path]:
    """Every module of the `pitchcraft` namespace -> its file in the repository."""
    modules = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            modules.setdefault(name, path)  # a nested mapping names its own folder first
    return modules


MODULES = module_files()


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """(module imported, line) for every import in the file, lazy ones included, except those
    only a type checker reads."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield (sub if sub in MODULES else node.module), node.lineno


def offending(paths: list[Path], bad: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in paths
        for name, line in imports(path)
        if any(name == b or name.startswith(b + ".") for b in bad)
    ]


def test_pyproject_lists_every_package_of_the_mapped_folders() -> None:
    found = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert set(PYPROJECT["packages"]) == found


def test_the_core_imports_no_plugin_and_no_demo() -> None:
    """`pitchcraft.cli` is the command above the core: it alone wires the demo and plugins."""
    core = [
        path
        for name, path in MODULES.items()
        if not name.startswith(("pitchcraft.plugins", "pitchcraft.demo"))
        and name != "pitchcraft.cli"
    ]
    assert len(core) > 50
    assert offending(core, ("pitchcraft.plugins", "pitchcraft.demo")) == []


def test_the_store_does_not_import_the_data_loaders() -> None:
    store = [p for n, p in MODULES.items() if n.startswith("pitchcraft.store")]
    assert offending(store, ("pitchcraft.data",)) == []


@pytest.mark.parametrize(
    "plugin", sorted(p.name for p in (REPO / "plugins").iterdir() if (p / "plugin.py").exists())
)
def test_plugins_do_not_reach_into_each_other(plugin: str) -> None:
    others = tuple(
        f"pitchcraft.plugins.{p.name}"
        for p in (REPO / "plugins").iterdir()
        if p.is_dir() and p.name != plugin
    )
    files = sorted((REPO / "plugins" / plugin).rglob("*.py"))
    assert offending(files, (*others, "pitchcraft.demo")) == []


def test_no_module_imports_an_old_top_level_name() -> None:
    files = [
        path
        for folder in ("toolkit", "plugins", "demo", "tests", "benchmarks", "examples", "scripts")
        for path in (REPO / folder).rglob("*.py")
    ]
    assert offending(files, tuple(sorted(OLD_NAMES))) == []


def test_no_import_cycles() -> None:
    graph = {
        name: {imported for imported, _ in imports(path) if imported in MODULES}
        for name, path in MODULES.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert [" -> ".join(c) for c in cycles] == []


@pytest.mark.parametrize("script", sorted(p.stem for p in (REPO / "benchmarks").glob("*.py")))
def test_every_benchmark_imports(script: str) -> None:
    """Benchmarks share helpers; a renamed one must not leave a script broken until its
    next (long) run."""
    import importlib

    importlib.import_module(f"benchmarks.{script}")
