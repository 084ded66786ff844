"""One way down: every import in `bot/` and `cogs/` points to its own layer or a lower one, and
nothing imports itself back, between modules or between layers.

Every import counts: module level, inside functions, and under `TYPE_CHECKING` (an upward
typing-only import is still an upward dependency). Imports are read with `ast`, so nothing is run.

The layers, top to bottom (DESIGN §1, "one way down"):

- entry: the command line and the two front ends it starts (`bot.client`, the Discord bot, loads
  the cogs by name; `bot.terminal` is the terminal chat; `bot.check` checks the setup and
  `bot.screen_check` measures the content screen on a labelled file);
- cogs: thin Discord adapters;
- wiring: `bot.services`, the one place that builds every part and hands each one what it uses;
- ui: Discord rendering shared by cogs (views, the component router, the reply writer, personas);
- services: chat, characters, images, privacy, voice and vision (what users do);
- rules: policy, per-server settings, limits, the age gate, the audit log;
- base: the store, the Venice client, the content screen (stage 1, `bot.safety`, and stage 2, the
  judge), the worker pools that keep CPU-heavy work off the event loop (`bot.offload`) and the
  watch that reports when the loop stalls (`bot.loopwatch`);
- plain: values and formats with no I/O that every layer may use (errors, the environment, `Where`,
  a character and its card formats, token estimates).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "cogs")

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry", ("bot.__main__", "bot.client", "bot.terminal", "bot.check", "bot.screen_check")),
    ("cogs", ("cogs",)),
    ("wiring", ("bot.services",)),
    ("ui", ("bot.ui",)),
    ("services", ("bot.chat", "bot.characters", "bot.images", "bot.privacy", "bot.audio", "bot.vision",
                  "bot.senses")),
    ("rules", ("bot.policy", "bot.settings", "bot.limits", "bot.gate", "bot.audit_log")),
    ("base", ("bot.store", "bot.venice", "bot.safety", "bot.judge", "bot.offload", "bot.loopwatch")),
    ("plain", ("bot", "bot.errors", "bot.config", "bot.logsetup", "bot.where", "bot.cache", "bot.characters.model",
               "bot.characters.cards", "bot.characters.cards_json", "bot.characters.cards_png",
               "bot.characters.charx", "bot.chat.tokens")),
]
RANK = {name: len(LAYERS) - i for i, (name, _) in enumerate(LAYERS)}

# Known upward imports being removed on other branches. Each entry names who removes it; the list
# only shrinks (it is empty: the content screen now owns the minor-feature terms the image composer
# uses, `bot.safety.MINOR_NEGATIVE_TERMS`).
KNOWN_UPWARD: set[tuple[str, str]] = set()


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def layer_of(module: str) -> str:
    """The layer of the longest prefix that names it (`bot.chat.tokens` before `bot.chat`)."""
    best, best_len = "", -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = layer, len(prefix)
    if not best:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return best


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """(imported project module, line) for every import statement anywhere in `module`."""
    return imports_in(MODULES[module], module)


def imports_in(path: Path, module: str) -> Iterator[tuple[str, int]]:
    """The imports of the file `path`, read as the module `module` (for relative imports)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _project(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                yield from _project(full if full in MODULES else target, node.lineno)


def _project(name: str, line: int) -> Iterator[tuple[str, int]]:
    if name.split(".")[0] not in PACKAGES:
        return
    while name not in MODULES and "." in name:  # `import bot.store.models as x` style names
        name = name.rpartition(".")[0]
    if name in MODULES:
        yield name, line


GRAPH = {module: sorted({target for target, _ in imports_of(module) if target != module}) for module in MODULES}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_nothing_imports_upward() -> None:
    upward = []
    for module in MODULES:
        for target, line in imports_of(module):
            if RANK[layer_of(target)] > RANK[layer_of(module)] and (module, target) not in KNOWN_UPWARD:
                upward.append(f"{MODULES[module].relative_to(ROOT)}:{line}: {module} ({layer_of(module)}) "
                              f"imports {target} ({layer_of(target)})")
    assert upward == [], "\n".join(upward)


def test_the_known_exceptions_are_still_real() -> None:
    """An exception that no longer happens is taken off the list, so it can't come back unnoticed."""
    for module, target in KNOWN_UPWARD:
        assert target in GRAPH.get(module, []), f"{module} no longer imports {target}: drop it from KNOWN_UPWARD"


# discord.py belongs to the edge (entry, cogs, wiring, ui). Below it, two modules still touch it:
# the gate's adapters turn interactions and messages into a plain `Place` (the decision itself,
# `gate.decide`, is plain), and `bot.limits` writes reset times as Discord timestamps (its wording
# is reworked on the "limits" branch).
DISCORD_BELOW_UI = {"bot.gate", "bot.limits"}


def third_party_imports(module: str) -> set[str]:
    path = MODULES[module]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_discord_stays_at_the_edge() -> None:
    below = [m for m in MODULES if RANK[layer_of(m)] < RANK["ui"] and "discord" in third_party_imports(m)]
    assert sorted(set(below) - DISCORD_BELOW_UI) == []
    assert set(below) >= DISCORD_BELOW_UI, "an exception that no longer happens is taken off the list"


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one node (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back() -> None:
    assert cycles(GRAPH) == []


def test_no_layer_imports_itself_back() -> None:
    layer_graph: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        for target in targets:
            if (module, target) in KNOWN_UPWARD:
                continue
            a, b = layer_of(module), layer_of(target)
            if a != b:
                layer_graph.setdefault(a, set()).add(b)
    assert cycles({k: sorted(v) for k, v in layer_graph.items()}) == []


@pytest.mark.parametrize(("source", "expected"), [
    ("import bot.store.models\n", ["bot.store.models"]),
    ("from bot.store import models\n", ["bot.store.models"]),
    ("from . import macros\n", ["bot.chat.macros"]),
    ("from .prompt import Turn\n", ["bot.chat.prompt"]),
    ("def f():\n    from bot.ui.stream import StreamRenderer\n", ["bot.ui.stream"]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.services import Services\n",
     ["bot.services"]),
])
def test_the_walker_sees_every_kind_of_import(tmp_path: Path, source: str, expected: list[str]) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    assert sorted(t for t, _ in imports_in(path, "bot.chat.probe")) == expected


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
