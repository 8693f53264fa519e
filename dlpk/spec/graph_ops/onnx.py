"""ONNX models: standard-domain ops only, no external data (package docstring: the rules)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ONNX_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")


def onnx_ops(model: Any, onnx: Any) -> list[str]:
    """Custom or unknown ops and external data of an ONNX ModelProto (loaded without its
    external data), sorted: `domain::op_type`, `external data (location)`."""
    functions = {(f.domain, f.name): f for f in model.functions}
    found: set[str] = set()
    checked: set[tuple[str, str]] = set()

    def tensor(value: Any) -> None:
        if value.data_location == onnx.TensorProto.EXTERNAL:
            where = next((e.value for e in value.external_data if e.key == "location"), "?")
            found.add(f"external data ({where})")

    def graph(g: Any) -> None:
        for t in g.initializer:
            tensor(t)
        for s in g.sparse_initializer:
            tensor(s.values)
            tensor(s.indices)
        nodes(g.node)

    def nodes(items: Iterable[Any]) -> None:
        for node in items:
            key = (node.domain, node.op_type)
            if key in functions:
                if key not in checked:
                    checked.add(key)
                    nodes(functions[key].node)
            elif node.domain not in ONNX_DOMAINS or not onnx.defs.has(
                node.op_type, "" if node.domain == "ai.onnx" else node.domain
            ):
                found.add(f"{node.domain or 'ai.onnx'}::{node.op_type}")
            for attribute in node.attribute:
                attribute_values(attribute)

    def attribute_values(attribute: Any) -> None:
        if attribute.HasField("t"):
            tensor(attribute.t)
        for t in attribute.tensors:
            tensor(t)
        sparse = [attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []
        for s in (*sparse, *attribute.sparse_tensors):
            tensor(s.values)
            tensor(s.indices)
        if attribute.HasField("g"):
            graph(attribute.g)
        for g in attribute.graphs:
            graph(g)

    graph(model.graph)
    for key, function in functions.items():  # defined but not called: checked all the same
        if key not in checked:
            checked.add(key)
            nodes(function.node)
    for info in model.training_info:
        graph(info.initialization)
        graph(info.algorithm)
    return sorted(found)
