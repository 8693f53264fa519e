"""TorchScript archives and modules: torch's own namespaces, no file or network ops (package
docstring: the rules)."""

from __future__ import annotations

import ast
import functools
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Op namespaces of torch itself (and torchvision's detection ops).
TORCH_NAMESPACES = frozenset(
    [
        "aten", "prim", "prims", "quantized", "_quantized", "quantization", "sparse", "mkldnn",
        "mkldnn_prepacked", "prepacked", "onednn", "mkl", "torchvision",
    ]
)  # fmt: skip
#: Namespaces of torch.classes a module may hold (packed weights of quantized and sparse ops).
TORCH_CLASS_NAMESPACES = frozenset(["quantized", "rnn", "sparse", "mkldnn", "xnnpack"])
#: Ops of those namespaces that reach outside the process (with those _denied_torch_ops finds).
TORCH_DENIED = frozenset(
    [
        "aten::save", "aten::from_file", "prim::rpc_async", "prim::rpc_sync", "prim::rpc_remote",
        "prim::PythonOp", "prim::IgnoredPythonOp",
    ]
)  # fmt: skip
_FILE_ARGUMENT = re.compile(
    r"\bstr(?:\?|\[\])?\s+\w*(?:file|path|dir|url|uri|addr|host)\w*\b", re.IGNORECASE
)
_MAX_CODE_BYTES = 64 * 1024 * 1024


@functools.lru_cache(maxsize=1)
def _denied_torch_ops(torch: Any) -> frozenset[str]:
    """TORCH_DENIED and every op of an allowed namespace whose schema takes a file name,
    path or address: a new file op of a later torch is refused without a list update."""
    found = set(TORCH_DENIED)
    for schema in torch._C._jit_get_all_schemas():
        namespace = schema.name.split("::", 1)[0]
        if namespace in TORCH_NAMESPACES and _FILE_ARGUMENT.search(str(schema)):
            found.add(schema.name)
    return frozenset(found)


def _refused_torch_op(op: str, denied: frozenset[str]) -> bool:
    namespace = op.split("::", 1)[0]
    return namespace not in TORCH_NAMESPACES or op in denied


def _chain(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None when the chain does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def torchscript_archive_ops(path: Path, torch: Any) -> list[str]:
    """Refused ops the code of a TorchScript archive can reach, found by parsing its code
    (Python syntax) without compiling or loading it: `torch.jit.load` runs a module's
    `__setstate__`, so this check comes first. Conservative: any attribute or getattr name
    that is a refused op's name counts, and code that does not parse or computes an attribute
    name is refused."""
    denied = _denied_torch_ops(torch)
    names_of = {op.split("::", 1)[1]: op for op in denied}
    found: set[str] = set()
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if i.filename.endswith(".py")]
            if sum(i.file_size for i in members) > _MAX_CODE_BYTES:
                return ["code larger than 64 MiB (not checked)"]
            sources = [(i.filename, archive.read(i)) for i in members]
    except (OSError, zipfile.BadZipFile):
        return []  # not an archive: loading it fails on its own
    for name, data in sources:
        try:
            tree = ast.parse(data.decode("utf-8"), filename=name)
        except (SyntaxError, ValueError, UnicodeDecodeError):
            found.add(f"code that does not parse ({name})")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                if node.attr in names_of:
                    found.add(names_of[node.attr])
                found.update(_namespaced(_chain(node), denied))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
            ):
                literal = node.args[1] if len(node.args) > 1 else None
                if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                    if literal.value in names_of:
                        found.add(names_of[literal.value])
                else:
                    found.add("getattr with a computed name")
    return sorted(found)


def _namespaced(chain: list[str] | None, denied: frozenset[str]) -> Iterator[str]:
    """`ops.<ns>.<op>` (or `torch.ops...`) and `torch.classes.<ns>.<Class>` references."""
    if not chain:
        return
    for i, part in enumerate(chain[:-1]):
        if part == "ops" and (i == 0 or chain[i - 1] == "torch") and len(chain) > i + 2:
            op = f"{chain[i + 1]}::{chain[i + 2]}"
            if _refused_torch_op(op, denied):
                yield op
        if (
            part == "classes"
            and i > 0
            and chain[i - 1] == "torch"
            and chain[i + 1] not in TORCH_CLASS_NAMESPACES
        ):
            yield "torch.classes." + ".".join(chain[i + 1 : i + 3])


_CLASS_TYPE = re.compile(r"torch\.classes\.(\w+)\.(\w+)")


def torchscript_module_ops(module: Any, torch: Any) -> list[str]:
    """Refused ops in the graphs of a loaded TorchScript module: every method of it and its
    submodules, with calls inlined and forked subgraphs followed; custom classes outside
    TORCH_CLASS_NAMESPACES in any value's type."""
    denied = _denied_torch_ops(torch)
    found: set[str] = set()

    def walk(graph: Any) -> None:
        copy = graph.copy()
        torch._C._jit_pass_inline(copy)
        stack = list(copy.nodes())
        while stack:
            node = stack.pop()
            kind = node.kind()
            if _refused_torch_op(kind, denied) or _FILE_ARGUMENT.search(node.schema()):
                found.add(kind)
            for value in (*node.inputs(), *node.outputs()):
                for match in _CLASS_TYPE.finditer(str(value.type())):
                    if match.group(1) not in TORCH_CLASS_NAMESPACES:
                        found.add(f"torch.classes.{match.group(1)}.{match.group(2)}")
            for block in node.blocks():
                stack.extend(block.nodes())
            for attribute in node.attributeNames():
                if node.kindOf(attribute) == "g":
                    walk(node.g(attribute))
                elif node.kindOf(attribute) == "gs":
                    for subgraph in node.gs(attribute):
                        walk(subgraph)

    for _, submodule in module.named_modules():
        for method in submodule._c._method_names():
            walk(submodule._c._get_method(method).graph)
    return sorted(found)
