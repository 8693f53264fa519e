"""Type and range errors from the pydantic models, so that the schema and the linter agree.

pydantic reports in its own terms (union branches, model field paths); these rules map each
error back onto the document, skip what a dedicated rule explains better, and offer a fix where a
string or float plainly meant a valid value (`"256"` for 256).
"""

from __future__ import annotations

import json
from typing import Any

from dlpk.spec.emd_schema import conforms
from dlpk.validator.class_rules import CLASS_KEYS
from dlpk.validator.diagnostics import Severity
from dlpk.validator.docvalues import short_json, type_name
from dlpk.validator.emitter import Emitter
from dlpk.validator.jsontext import child_pointer, unescape_pointer_token

# Pointers whose schema errors dedicated rules already explain better.
_DEDICATED = ("/ModelType", "/ImageSpaceUsed", "/Framework")
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than_equal", "less_than"}


def check_schema(emit: Emitter, doc: dict[str, Any]) -> None:
    """Type and range errors from the pydantic models: the schema and the linter agree. A
    document the published schema accepts has none, and pydantic is not even imported."""
    _integer_class_names(emit, doc)
    if conforms(doc):
        return
    from pydantic import ValidationError

    from dlpk.spec.emd import EsriModelDefinition

    try:
        EsriModelDefinition.model_validate(doc)
        return
    except ValidationError as exc:
        errors = exc.errors()
    seen: set[str] = set()
    for error in errors:
        pointer = _data_pointer(doc, error["loc"])
        if pointer in seen or pointer in _DEDICATED or pointer == "":
            continue
        if pointer.startswith("/Classes/") and _class_error_is_dedicated(doc, pointer, error):
            continue
        seen.add(pointer)
        value = _resolve(doc, pointer)
        kind = error["type"]
        top_key = unescape_pointer_token(pointer.split("/")[1])
        if kind in _RANGE_ERRORS:
            emit.emit("DL207", f"{pointer[1:]} = {value!r}: {error['msg'].lower()}", pointer)
            continue
        if kind.endswith("_type") or kind in {"literal_error", "union_tag_invalid"}:
            if pointer.count("/") == 1 and (meant := _coerced(value, top_key)) is not None:
                fix = emit.value_fix(pointer, meant, f"write {json.dumps(meant)}", True)
                emit.emit(
                    "DL206",
                    f"{top_key} is {type_name(value)} {json.dumps(value)}; "
                    f"expected {type_name(meant)} {json.dumps(meant)}",
                    pointer,
                    fix=fix,
                )
                continue
            emit.emit(
                "DL206",
                f"{pointer[1:]}: {type_name(value)} {short_json(value)}: {error['msg']}",
                pointer,
            )
            continue
        emit.emit("DL216", f"{pointer[1:] or 'document'}: {error['msg']}", pointer)


def _integer_class_names(emit: Emitter, doc: dict[str, Any]) -> None:
    """Integer class Names (Esri's Living Atlas road extractor has one): the models read them
    as their text, as ArcGIS does, so they are no schema error; lint still says so."""
    classes = doc.get("Classes")
    for number, entry in enumerate(classes if isinstance(classes, list) else []):
        name = entry.get("Name") if isinstance(entry, dict) else None
        if isinstance(name, int) and not isinstance(name, bool):
            _integer_class_name(emit, f"/Classes/{number}/Name", name)


def _integer_class_name(emit: Emitter, pointer: str, value: int) -> None:
    """An integer Name: the raster functions copy Name into the Class field, so ArcGIS reads
    it; Esri's documentation asks for a string."""
    text = str(value)
    fix = emit.value_fix(pointer, text, f"write {json.dumps(text)}", True)
    emit.emit(
        "DL206",
        f"{pointer[1:]} is the integer {value}: ArcGIS copies Name into the output's Class "
        f"field, so it runs, but Esri documents Name as a string; write {json.dumps(text)}",
        pointer,
        fix=fix,
        severity=Severity.WARNING,
    )


def _data_pointer(doc: Any, loc: tuple[int | str, ...]) -> str:
    """Map a pydantic error location onto the document, skipping union-branch labels."""
    pointer, current = "", doc
    for part in loc:
        in_object = isinstance(current, dict) and isinstance(part, str) and part in current
        in_array = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if not (in_object or in_array):
            continue
        current = current[part]
        pointer = child_pointer(pointer, part)
    return pointer


def _resolve(doc: Any, pointer: str) -> Any:
    current = doc
    for escaped in pointer.split("/")[1:]:
        token = unescape_pointer_token(escaped)
        current = current[int(token)] if isinstance(current, list) else current[token]
    return current


def _coerced(value: Any, key: str) -> Any:
    """The value a string or float most likely meant, if it validates for `key`; else None."""
    candidate: Any = None
    if isinstance(value, str):
        try:
            candidate = json.loads(value)
        except ValueError:
            return None
    elif isinstance(value, float) and value.is_integer():
        candidate = int(value)
    if candidate is None:
        return None
    from pydantic import ValidationError

    from dlpk.spec.emd import EsriModelDefinition

    try:
        EsriModelDefinition.model_validate({key: candidate})
    except ValidationError:
        return None
    return candidate


def _class_error_is_dedicated(doc: dict[str, Any], pointer: str, error: Any) -> bool:
    parts = pointer.split("/")
    if len(parts) >= 4 and parts[3] == "Color":
        return True  # DL308
    if error["type"] in {"extra_forbidden", "missing"}:
        entry = _resolve(doc, "/".join(parts[:3]))
        return isinstance(entry, dict) and any(k not in CLASS_KEYS for k in entry)
    return False
