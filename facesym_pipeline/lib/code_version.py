"""Versions of the pipeline's code.

`code_version()` hashes every source of the package: what model files and demo datasets
record. `callable_code_version(fn)` hashes only what one function can reach: its own
source, the helpers and classes of the package it names, and the library modules those name,
with everything they import from the library in turn. An asset's version then changes when
a formula it uses changes, and not when a demo generator or another room's code does.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
import types
from collections.abc import Callable
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
_PACKAGE_NAME = _PACKAGE.name
LIBRARY = f"{_PACKAGE_NAME}.lib"


@cache
def code_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _in_library(module: str) -> bool:
    return module == LIBRARY or module.startswith(LIBRARY + ".")


def _source_file(module: str) -> Path | None:
    """The file of a module of this package, found without importing anything."""
    parts = module.split(".")
    if parts[0] != _PACKAGE_NAME:
        return None
    base = _PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_module(name: str) -> bool:
    return _source_file(name) is not None


@cache
def _imported_library_modules(module: str) -> frozenset[str]:
    """Library modules that `module`'s source imports (at any depth in its body)."""
    path = _source_file(module)
    if path is None:
        return frozenset()
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                # `from pkg import module` names a module; `from module import name` does not.
                target = candidate if _is_module(candidate) else node.module
                if _in_library(target):
                    found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _in_library(a.name))
    return frozenset(found)


def library_closure(modules: set[str]) -> set[str]:
    """`modules` and every library module they import, transitively."""
    closure: set[str] = set()
    pending = [m for m in modules if _in_library(m)]
    while pending:
        module = pending.pop()
        if module in closure:
            continue
        closure.add(module)
        pending.extend(_imported_library_modules(module) - closure)
    return closure


def _names_in(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in(const)
    return names


def _names_of(obj: object) -> set[str]:
    """Global names a function's code uses, or, for a class, the code of its methods and
    properties (what an asset reaches through a resource). Imports inside a body appear
    here too: Python lists the imported module's dotted name among the code's names."""
    code = getattr(obj, "__code__", None)
    if code is not None:
        return _names_in(code)
    names: set[str] = set()
    for member in vars(obj).values():
        function = getattr(member, "fget", member)
        if inspect.isfunction(function):
            names |= _names_in(function.__code__)
    return names


def _reach(fn: Callable) -> tuple[list[str], set[str]]:
    """Sources of `fn` and of the package's non-library functions and classes it names
    (recursively), and the library modules of every object it names."""
    home = fn.__module__
    sources: dict[str, str] = {}
    modules: set[str] = set()
    pending: list[object] = [fn]
    while pending:
        obj = pending.pop()
        name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
        if name in sources:
            continue
        sources[name] = inspect.getsource(obj)
        names = _names_of(obj)
        modules |= {n for n in names if _in_library(n) and _is_module(n)}
        annotations = getattr(obj, "__annotations__", {})
        scope = getattr(obj, "__globals__", None) or vars(sys.modules[obj.__module__])
        for referenced in [scope.get(n) for n in names] + list(annotations.values()):
            if isinstance(referenced, types.ModuleType):
                modules.add(referenced.__name__)
                continue
            owner = getattr(referenced, "__module__", None)
            if owner is None:
                continue
            if _in_library(owner):
                modules.add(owner)
            elif (owner == home or owner.startswith(_PACKAGE_NAME + ".")) and (
                inspect.isfunction(referenced) or inspect.isclass(referenced)
            ):
                # A helper of the asset's own layer (its module, shared metadata, resources).
                pending.append(referenced)
    return [sources[k] for k in sorted(sources)], modules


def callable_code_version(fn: Callable) -> str:
    """A hash of what `fn` can run: its source, its module's helpers it names, and the
    library modules it reaches (with their library imports)."""
    sources, modules = _reach(inspect.unwrap(fn))
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.encode())
    for module in sorted(library_closure(modules)):
        digest.update(module.encode())
        digest.update(_source_file(module).read_bytes())
    return digest.hexdigest()[:16]
