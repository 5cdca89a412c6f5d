"""The package's shape, checked from its import graph (read with `ast`, nothing imported):
no import circles, production code never reaches into demo/ or apps/, lib/ never imports
Dagster, and lib/ keeps its modules in rooms."""

from __future__ import annotations

import ast
from pathlib import Path

import facesym_pipeline

PACKAGE = Path(facesym_pipeline.__file__).parent
MAX_LOOSE_LIB_MODULES = 12


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (function-level imports included)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from package import module` imports the module, not only the package.
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    sources = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in sources and i != m} for m, p in sources.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules, or None (depth-first search, colouring)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circles():
    assert _cycle(_graph()) is None


def test_production_code_never_imports_demo_or_apps():
    offenders = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module.startswith(("facesym_pipeline.lib", "facesym_pipeline.defs"))
        for target in targets
        if target.startswith(("facesym_pipeline.demo", "facesym_pipeline.apps"))
    ]
    assert offenders == []


def test_lib_has_no_dagster_import():
    """Logic stays testable without Dagster: only defs/ and definitions.py import it."""
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / "lib").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] == "dagster"
    ]
    assert offenders == []


def test_rooms_of_lib_depend_on_each_other_in_one_direction():
    """No circle between the rooms of lib/ (its sub-packages), not only between modules."""
    rooms: dict[str, set[str]] = {}

    def room(module: str) -> str | None:
        parts = module.split(".")
        is_room = parts[:2] == ["facesym_pipeline", "lib"] and len(parts) >= 4
        return parts[2] if is_room else None

    for module, targets in _graph().items():
        if (source := room(module)) is not None:
            found = rooms.setdefault(source, set())
            found.update(r for t in targets if (r := room(t)) not in (None, source))
    assert _cycle({r: rooms.get(r, set()) & set(rooms) for r in rooms}) is None


def test_lib_keeps_its_modules_in_rooms():
    loose = [p.name for p in (PACKAGE / "lib").glob("*.py") if p.name != "__init__.py"]
    assert len(loose) <= MAX_LOOSE_LIB_MODULES, sorted(loose)


def test_defs_domains_import_no_other_domain_helpers():
    """A domain folder of defs/ may use the shared defs/ modules and other domains' asset
    objects (its real dependencies), never their other helpers."""
    offenders = []
    for module, targets in _graph().items():
        parts = module.split(".")
        if parts[:2] != ["facesym_pipeline", "defs"] or len(parts) < 4:
            continue
        for target in targets:
            tparts = target.split(".")
            if tparts[:2] == ["facesym_pipeline", "defs"] and len(tparts) >= 4:
                if tparts[2] != parts[2] and tparts[3] != "assets":
                    offenders.append(f"{module} -> {target}")
    assert offenders == []
