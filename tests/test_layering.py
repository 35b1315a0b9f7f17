"""The architecture's rules, read from the import statements of the source tree.

The rooms: `storage` (the database), `commands/core` (how any command runs), one package per
feature under `commands/` (its handlers beside the read API other features use), and `bot`
(platforms, scheduling, delivery, the CLI). Arrows point one way: bot -> commands -> storage,
feature -> core. Every import counts, including those inside functions and under
TYPE_CHECKING: each is a dependency a reader has to hold in their head.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "commands", "storage")
PLATFORM_LIBRARIES = ("discord", "slack_bolt", "slack_sdk", "aiohttp", "gidgethub")


@dataclass(frozen=True)
class Module:
    """A source module: its dotted name, whether it is a package's __init__, what it imports."""

    name: str
    is_package: bool
    imports: frozenset[str]
    declares_commands: bool

    @property
    def package(self) -> str:
        """The package the module is in (itself, for an __init__)."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


def _name_of(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _imports(tree: ast.Module, name: str, is_package: bool, known: set[str]) -> Iterator[str]:
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from commands.reviews import clocks` imports the module commands.reviews.clocks.
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            yield from subs or [base]


def _declares_commands(tree: ast.Module) -> bool:
    """Whether a module declares a command group: it calls `Group(...)` somewhere."""
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Group"
        for node in ast.walk(tree)
    )


def read_tree(root: Path = REPO) -> dict[str, Module]:
    """Every module of bot/, commands/ and storage/, by dotted name."""
    paths = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    known = {_name_of(p)[0] for p in paths}
    modules = {}
    for path in paths:
        name, is_package = _name_of(path)
        tree = ast.parse(path.read_text(), str(path))
        imports = frozenset(_imports(tree, name, is_package, known))
        modules[name] = Module(name, is_package, imports, _declares_commands(tree))
    return modules


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def core_violations(modules: Mapping[str, Module]) -> list[str]:
    """commands/core imports storage and itself, never a feature."""
    return [
        f"{m.name} imports {i}"
        for m in modules.values()
        if _within(m.name, "commands.core")
        for i in m.imports
        if _within(i, "commands") and not _within(i, "commands.core")
    ]


def handler_violations(modules: Mapping[str, Module]) -> list[str]:
    """A module that declares commands is imported only by its own package's __init__."""
    handlers = {m.name for m in modules.values() if m.declares_commands}
    return [
        f"{m.name} imports the handlers {i}"
        for m in modules.values()
        for i in m.imports & handlers
        if not (m.is_package and m.name == modules[i].package)
    ]


def platform_violations(modules: Mapping[str, Module]) -> list[str]:
    """commands/ and storage/ import no platform library and nothing of bot/; storage no command."""
    wrong = [*PLATFORM_LIBRARIES, "bot"]
    found = []
    for m in modules.values():
        banned = [*wrong, "commands"] if _within(m.name, "storage") else wrong
        if _within(m.name, "commands") or _within(m.name, "storage"):
            found += [
                f"{m.name} imports {i}" for i in m.imports if any(_within(i, b) for b in banned)
            ]
    return found


def cycles(modules: Mapping[str, Module]) -> list[list[str]]:
    """Import circles among our modules (each found once, from its smallest name)."""
    graph = {n: sorted(i for i in m.imports if i in modules) for n, m in modules.items()}
    found: list[list[str]] = []
    for start in sorted(graph):
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    found.append(path)
                elif nxt > start and nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return found


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return read_tree()


def test_the_command_core_imports_no_feature(modules: dict[str, Module]) -> None:
    assert core_violations(modules) == []


def test_handlers_are_imported_only_by_their_package(modules: dict[str, Module]) -> None:
    assert handler_violations(modules) == []


def test_commands_and_storage_import_no_platform_and_no_bot(modules: dict[str, Module]) -> None:
    assert platform_violations(modules) == []


def test_there_are_no_import_circles(modules: dict[str, Module]) -> None:
    assert cycles(modules) == []


def test_every_feature_has_handlers_and_the_reader_finds_them(modules: dict[str, Module]) -> None:
    handlers = {m.name for m in modules.values() if m.declares_commands}
    assert {"commands.reviews.handlers", "commands.weekly.agenda", "commands.help"} <= handlers


def _wrong(modules: dict[str, Module], name: str, *extra: str) -> dict[str, Module]:
    m = modules[name]
    return {**modules, name: Module(m.name, m.is_package, m.imports | set(extra), False)}


@pytest.mark.parametrize(
    ("module", "wrong_import", "rule"),
    [
        ("commands.core.dispatch", "commands.reviews.card", core_violations),
        ("commands.digest.compose", "commands.reviews.handlers", handler_violations),
        ("commands.weekly.posting", "commands.weekly.agenda", handler_violations),
        ("commands.reviews.card", "discord", platform_violations),
        ("storage.outbox", "commands.core.messages", platform_violations),
        ("commands.core.messages", "bot.runtime", platform_violations),
    ],
)
def test_each_rule_catches_a_deliberately_wrong_import(
    modules: dict[str, Module], module: str, wrong_import: str, rule: object
) -> None:
    assert callable(rule)
    assert rule(modules) == []
    assert rule(_wrong(modules, module, wrong_import)) != []


def test_the_circle_finder_catches_a_circle(modules: dict[str, Module]) -> None:
    # bot.runtime imports bot.deadlines; make it import bot.runtime back.
    assert "bot.deadlines" in modules["bot.runtime"].imports
    assert cycles(_wrong(modules, "bot.deadlines", "bot.runtime")) != []
