"""What a Python file defines at module level, read from its syntax tree without running it.

The InferenceFunction's class is the one named like its file
(docs/esri-formats.md#inferencefunction); lint checks that from the source. A module that could bind
names in ways the tree does not show (`from x import *`, `globals()`, `exec`, ...) gets no verdict
rather than a wrong one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

_DYNAMIC_CALLS = frozenset({"globals", "exec", "eval", "setattr", "vars", "locals", "__import__"})


#: A method every raster function defines (docs/esri-formats.md#methods): a class with it is
#: the function's.
_FUNCTION_METHOD = "getParameterInfo"


@dataclass(frozen=True)
class ModuleNames:
    """`binds` is True, False, or None when the source leaves it open; `classes` lists the
    module-level class names and `functions` those defining getParameterInfo, for a message
    that suggests one."""

    binds: bool | None
    classes: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()


def module_binds(source: bytes, name: str) -> ModuleNames:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ModuleNames(None)
    classes: list[ast.ClassDef] = []
    binds: bool | None = _binds(tree.body, name, classes)
    if not binds and _dynamic(tree, name):
        binds = None
    functions = [c.name for c in classes if any(_defines(s, _FUNCTION_METHOD) for s in c.body)]
    return ModuleNames(binds, tuple(c.name for c in classes), tuple(functions))


def _defines(statement: ast.stmt, method: str) -> bool:
    return (
        isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == method
    )


def _binds(body: list[ast.stmt], name: str, classes: list[ast.ClassDef]) -> bool:
    """Whether these module-level statements (or the blocks they open) bind `name`."""
    found = False
    for statement in body:
        if isinstance(statement, ast.ClassDef):
            classes.append(statement)
            found = found or statement.name == name
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            bound = [alias.asname or alias.name.split(".")[0] for alias in statement.names]
            found = found or name in bound
        elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            found = found or any(_stores(target, name) for target in targets)
        elif isinstance(statement, ast.For | ast.AsyncFor):
            found = found or _stores(statement.target, name)
        elif isinstance(statement, ast.With | ast.AsyncWith):
            held = [item.optional_vars for item in statement.items if item.optional_vars]
            found = found or any(_stores(target, name) for target in held)
        for block in _blocks(statement):
            found = _binds(block, name, classes) or found
    return found


def _blocks(statement: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists that run at module level inside `if`, `try`, `with`, loops."""
    if isinstance(statement, ast.If | ast.For | ast.AsyncFor | ast.While):
        return [statement.body, statement.orelse]
    if isinstance(statement, ast.With | ast.AsyncWith):
        return [statement.body]
    if isinstance(statement, ast.Try | ast.TryStar):
        handlers = [handler.body for handler in statement.handlers]
        return [statement.body, *handlers, statement.orelse, statement.finalbody]
    if isinstance(statement, ast.Match):
        return [case.body for case in statement.cases]
    return []


def _stores(target: ast.expr, name: str) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
        for node in ast.walk(target)
    )


def _dynamic(tree: ast.Module, name: str) -> bool:
    """Whether the module might bind `name` where `_binds` does not look."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        called = node.func if isinstance(node, ast.Call) else None
        if isinstance(called, ast.Name) and called.id in _DYNAMIC_CALLS:
            return True
        if isinstance(node, ast.Global) and name in node.names:
            return True
        if isinstance(node, ast.NamedExpr) and _stores(node.target, name):
            return True
    return False
