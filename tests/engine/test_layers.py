"""The import graph keeps its layers: the engine never imports engine.outbound (or the
server), services reach storage only through repositories, and the server's modules form
no cycle. Read from the source with ``ast``, so a forbidden import fails here at once."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"
#: Packages above the engine core: they may import the engine, never the other way round.
#: ``engine.runtime`` is the composition root: it alone wires the engine, outbound and server.
UPPER = ("engine.outbound", "engine.server", "engine.simulation", "engine.runtime", "agentmarket_tui")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved), at any depth in the file."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            name = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _graph(files: list[Path]) -> dict[str, set[str]]:
    return {_module(f): _imports(f) for f in files}


def _core_files() -> list[Path]:
    return [f for f in ENGINE.rglob("*.py") if not _module(f).startswith(UPPER)]


def test_the_engine_core_never_imports_the_layers_above_it() -> None:
    offences = sorted(
        f"{module} imports {name}"
        for module, names in _graph(_core_files()).items()
        for name in names
        if name.startswith(UPPER)
    )
    assert offences == []


def test_services_reach_storage_only_through_its_public_seams() -> None:
    allowed = ("engine.storage", "engine.storage.MarketTx", "engine.storage.Store", "engine.storage.SQLiteStore")
    offences = sorted(
        f"{module} imports {name}"
        for module, names in _graph(list((ENGINE / "services").glob("*.py"))).items()
        for name in names
        if name.startswith("engine.storage") and name not in allowed
    )
    assert offences == []


def _resolve(name: str, modules: set[str]) -> str | None:
    """The module of ``graph`` an imported name lives in (``engine.services.HiringService``
    is ``engine.services``, the package whose ``__init__`` re-exports it), or None."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the graph's own modules (type-only imports included), or None."""
    modules = set(graph)
    # A module's own parent packages are left out: Python initialises them first anyway.
    edges = {m: {r for n in names if (r := _resolve(n, modules)) and r != m and not m.startswith(r + ".")}
             for m, names in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_cycle_between_the_engine_core_and_outbound() -> None:
    assert _cycle(_graph(_core_files() + list((ENGINE / "outbound").glob("*.py")))) is None


def test_no_cycle_between_server_modules() -> None:
    assert _cycle(_graph(list((ENGINE / "server").glob("*.py")))) is None


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_server_is_handed_the_hire_runner_rather_than_importing_it() -> None:
    # Only the composition root (engine.runtime) puts the server and outbound's runner together.
    graph = _graph(list((ENGINE / "server").glob("*.py")))
    offences = sorted(f"{m} imports {n}" for m, names in graph.items() for n in names
                      if n.startswith(("engine.outbound.execute", "engine.outbound.execution")))
    assert offences == []


def test_nothing_but_the_faces_imports_the_composition_root() -> None:
    below = _core_files() + [f for f in ENGINE.rglob("*.py") if _module(f).startswith(("engine.outbound", "engine.server"))]
    offences = sorted(f"{m} imports {n}" for m, names in _graph(below).items() for n in names
                      if n.startswith("engine.runtime"))
    assert offences == []
