"""Typed reads and short renderings of raw .emd values, shared by the content rules.

The rules run on the document as parsed, before (and beside) schema validation, so any key may
hold any JSON value. These helpers give every rule module the same answer to "is this an integer
here?" (a boolean is not) and the same way of quoting a value in a message.
"""

from __future__ import annotations

import json
from typing import Any


def str_value(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) else None


def int_value(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def configuration_name(doc: dict[str, Any]) -> str | None:
    config = doc.get("ModelConfiguration")
    if isinstance(config, dict):
        name = config.get("Name")
        return name if isinstance(name, str) else None
    return config if isinstance(config, str) else None


def file_name(path: str) -> str:
    """The last part of a path written with either separator (`[Functions]System\\X.py`)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def short_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
