"""The published .emd JSON Schema, read without pydantic: the canonical key orders, and whether
a document conforms.

Importing pydantic and building the .emd models costs about 0.1 s, more than the rest of a
`dlpk lint` run; most documents a pre-commit hook sees are valid. `conforms` answers "would the
models accept this?" from the committed schema (generated from those models and drift-tested),
so the linter only pays for pydantic when a document has a type or range error to explain.
`tests/spec/test_emd_schema.py` holds the two answers equal over the corpus and fuzzed documents.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).parent / "schemas" / "emd.schema.json"


@cache
def emd_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@cache
def canonical_key_order() -> tuple[str, ...]:
    """The models' field order (as the schema lists them), which `dlpk normalize` writes."""
    return tuple(emd_schema()["properties"])


@cache
def class_key_order() -> tuple[str, ...]:
    return tuple(emd_schema()["$defs"]["ClassEntry"]["properties"])


def conforms(document: Any) -> bool:
    """True when `document` satisfies the schema (so the models accept it); False when it may
    not, and the models must be asked for their errors."""
    schema = emd_schema()
    return _valid(document, schema, schema)


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
#: The keywords the generated schema uses; pydantic writes a union's bounds as ge/gt/le/lt.
_BOUNDS = {
    "minimum": lambda v, b: v >= b,
    "ge": lambda v, b: v >= b,
    "exclusiveMinimum": lambda v, b: v > b,
    "gt": lambda v, b: v > b,
    "maximum": lambda v, b: v <= b,
    "le": lambda v, b: v <= b,
    "exclusiveMaximum": lambda v, b: v < b,
    "lt": lambda v, b: v < b,
}
_ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$id", "$defs"}


def _valid(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    for keyword, expected in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None:
            return False  # a keyword this check does not know: let the models decide
        if not check(value, expected, schema, root):
            return False
    return True


def _type(value: Any, expected: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    names = expected if isinstance(expected, list) else [expected]
    return any(_TYPES[name](value) for name in names)


def _bound(keyword: str) -> Any:
    def check(value: Any, bound: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return not numeric or bool(_BOUNDS[keyword](value, bound))

    return check


def _ref(value: Any, ref: str, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return _valid(value, target, root)


def _properties(value: Any, props: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        return True
    return all(_valid(value[k], s, root) for k, s in props.items() if k in value)


def _additional(value: Any, extra: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        return True
    known = schema.get("properties", {})
    others = [v for k, v in value.items() if k not in known]
    if extra is False:
        return not others
    return extra is True or all(_valid(v, extra, root) for v in others)


def _required(value: Any, names: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    return not isinstance(value, dict) or all(name in value for name in names)


def _items(value: Any, items: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if not isinstance(value, list):
        return True
    rest = value[len(schema.get("prefixItems", [])) :]
    if isinstance(items, bool):
        return items or not rest
    return all(_valid(v, items, root) for v in rest)


def _prefix(value: Any, prefix: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if not isinstance(value, list):
        return True
    return all(_valid(v, s, root) for v, s in zip(value, prefix, strict=False))


def _min_items(value: Any, count: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    return not isinstance(value, list) or len(value) >= count


def _max_items(value: Any, count: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    return not isinstance(value, list) or len(value) <= count


def _any_of(value: Any, options: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    return any(_valid(value, option, root) for option in options)


def _same(a: Any, b: Any) -> bool:
    """Equal and of one type: 1.0 and true are not 1 here (when unsure, say no: the models
    then decide, so a False costs time and never a missed error)."""
    return type(a) is type(b) and a == b


def _const(value: Any, expected: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    return _same(value, expected)


def _enum(value: Any, options: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    return any(_same(value, option) for option in options)


_KEYWORDS: dict[str, Any] = {
    "type": _type,
    "$ref": _ref,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "items": _items,
    "prefixItems": _prefix,
    "minItems": _min_items,
    "maxItems": _max_items,
    "anyOf": _any_of,
    "const": _const,
    "enum": _enum,
    **{keyword: _bound(keyword) for keyword in _BOUNDS},
}
