"""Rules over the content of an .emd: JSON text, keys, values, Classes and their consistency."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from pydantic import ValidationError

from dlpk.spec import vocab
from dlpk.spec.emd import CANONICAL_KEY_ORDER, EsriModelDefinition
from dlpk.validator.diagnostics import Fix, Severity
from dlpk.validator.emitter import Emitter
from dlpk.validator.jsontext import child_pointer
from dlpk.validator.suggest import closest

_SYNTAX_CODES = {
    "syntax": "DL101",
    "trailing_comma": "DL102",
    "comment": "DL103",
    "bom": "DL104",
    "invalid_escape": "DL105",
    "duplicate_key": "DL106",
    "missing_comma": "DL107",
    "control_char": "DL108",
    "encoding": "DL109",
    "non_finite": "DL112",
}
_SYNTAX_FIX_TEXT = {
    "trailing_comma": "remove the trailing comma",
    "comment": "delete the comment",
    "bom": "remove the byte-order mark",
    "invalid_escape": "double the backslash",
    "duplicate_key": "keep only the last occurrence (what ArcGIS reads)",
    "missing_comma": "insert the comma",
    "control_char": "escape the character",
}
_TEMPLATE_HINT = "e.g."
# Pointers whose schema errors dedicated rules already explain better.
_DEDICATED = ("/ModelType", "/ImageSpaceUsed", "/Framework")


def check_syntax(emit: Emitter) -> None:
    for issue in emit.source.parsed.issues:
        code = _SYNTAX_CODES[issue.kind]
        fix = None
        if issue.edits is not None:
            fix = Fix(_SYNTAX_FIX_TEXT[issue.kind], issue.kind != "comment", issue.edits)
        emit.emit(code, issue.message, issue.pointer, offset=issue.offset, fix=fix)


def is_training_data_manifest(doc: dict[str, Any]) -> bool:
    """The Export Training Data template (§4.4): placeholder strings, or data-only metadata."""
    placeholders = any(
        isinstance(doc.get(k), str) and doc[k].startswith(_TEMPLATE_HINT)
        for k in ("Framework", "ModelType", "ModelFile", "ImageHeight", "ImageWidth")
    )
    band_note = any(k.startswith("WellKnownBandNames") for k in doc)
    data_only = "MetaDataMode" in doc and "ModelFile" not in doc and "InferenceFunction" not in doc
    return placeholders or band_note or data_only


def check_manifest(emit: Emitter, doc: dict[str, Any]) -> bool:
    if not is_training_data_manifest(doc):
        return False
    mode = doc.get("MetaDataMode")
    emit.emit(
        "DL601",
        "this is the metadata file written by Export Training Data"
        + (f" ({mode})" if isinstance(mode, str) else "")
        + ": it describes training chips, not a trained model; train a model and lint its .emd",
        "",
    )
    return True


def check_keys(emit: Emitter, doc: dict[str, Any]) -> None:
    known = set(CANONICAL_KEY_ORDER)
    for key in doc:
        if key in known or key in vocab.KNOWN_EXTRA_KEYS:
            continue
        suggestion = closest(key, CANONICAL_KEY_ORDER, cutoff=0.85)
        if suggestion is None:
            continue
        pointer = child_pointer("", key)
        target = suggestion.value
        if target in doc:
            emit.emit(
                "DL201",
                f"key {key!r} looks like a misspelling of {target!r}, which is also present",
                pointer,
                key=True,
            )
            continue
        fix = emit.key_fix(pointer, target, f"rename to {target!r}", suggestion.safe)
        severity = None if suggestion.safe else Severity.WARNING
        emit.emit(
            "DL201",
            f"unknown key {key!r}: did you mean {target!r}? (keys are case-sensitive)",
            pointer,
            key=True,
            fix=fix,
            severity=severity,
        )


def _enum_check(
    emit: Emitter, doc: dict[str, Any], key: str, allowed: tuple[str, ...], code: str
) -> None:
    value = doc.get(key)
    if not isinstance(value, str) or value in allowed:
        return
    pointer = child_pointer("", key)
    suggestion = closest(value, allowed)
    if suggestion is None:
        emit.emit(code, f"{key} {value!r} is not one of the known values", pointer)
        return
    fix = emit.value_fix(pointer, suggestion.value, f"replace with {suggestion.value!r}", True)
    if fix is not None and not suggestion.safe:
        fix = Fix(fix.description, False, fix.edits)
    emit.emit(
        code, f"unknown {key} {value!r}: did you mean {suggestion.value!r}?", pointer, fix=fix
    )


def check_vocabulary(emit: Emitter, doc: dict[str, Any]) -> None:
    _enum_check(emit, doc, "ModelType", vocab.MODEL_TYPES, "DL202")
    _enum_check(emit, doc, "ImageSpaceUsed", vocab.IMAGE_SPACES, "DL205")
    _enum_check(emit, doc, "Framework", vocab.FRAMEWORKS, "DL203")
    framework = _str(doc, "Framework")
    configuration = configuration_name(doc)
    if framework in vocab.FRAMEWORK_CONFIGURATIONS and isinstance(configuration, str):
        names = vocab.FRAMEWORK_CONFIGURATIONS[framework]
        if configuration not in names:
            config = doc["ModelConfiguration"]
            pointer = "/ModelConfiguration" + ("/Name" if isinstance(config, dict) else "")
            suggestion = closest(configuration, names)
            hint = f": did you mean {suggestion.value!r}?" if suggestion else ""
            fix = None
            if suggestion is not None:
                fix = emit.value_fix(pointer, suggestion.value, f"use {suggestion.value!r}", False)
            emit.emit(
                "DL204",
                f"ModelConfiguration {configuration!r} is not a known {framework} module{hint}",
                pointer,
                fix=fix,
            )


def configuration_name(doc: dict[str, Any]) -> str | None:
    config = doc.get("ModelConfiguration")
    if isinstance(config, dict):
        name = config.get("Name")
        return name if isinstance(name, str) else None
    return config if isinstance(config, str) else None


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


def _lookup(doc: Any, pointer: str) -> Any:
    current = doc
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
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
    try:
        EsriModelDefinition.model_validate({key: candidate})
    except ValidationError:
        return None
    return candidate


def check_schema(emit: Emitter, doc: dict[str, Any]) -> None:
    """Type and range errors from the pydantic models: the schema and the linter agree."""
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
        value = _lookup(doc, pointer)
        kind = error["type"]
        top_key = pointer.split("/")[1].replace("~1", "/").replace("~0", "~")
        if kind in {"greater_than", "greater_than_equal", "less_than_equal", "less_than"}:
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
                f"{pointer[1:]}: {type_name(value)} {_short(value)}: {error['msg']}",
                pointer,
            )
            continue
        emit.emit("DL216", f"{pointer[1:] or 'document'}: {error['msg']}", pointer)


def _class_error_is_dedicated(doc: dict[str, Any], pointer: str, error: Any) -> bool:
    parts = pointer.split("/")
    if len(parts) >= 4 and parts[3] == "Color":
        return True  # DL308
    if error["type"] in {"extra_forbidden", "missing"}:
        entry = _lookup(doc, "/".join(parts[:3]))
        return isinstance(entry, dict) and any(k not in ("Value", "Name", "Color") for k in entry)
    return False


def type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_values(emit: Emitter, doc: dict[str, Any]) -> None:
    height, width = _int(doc.get("ImageHeight")), _int(doc.get("ImageWidth"))
    for key in ("ModelPadding", "Padding"):
        padding = _int(doc.get(key))
        sizes = [s for s in (height, width) if s is not None and s > 0]
        if padding is not None and sizes and 2 * padding >= min(sizes):
            emit.emit(
                "DL208",
                f"{key} {padding} leaves no centre: it must be less than half the tile "
                f"({min(sizes)} px), i.e. at most {(min(sizes) - 1) // 2}",
                child_pointer("", key),
            )
    arcgis_learn = doc.get("Framework") == vocab.ARCGIS_LEARN_FRAMEWORK
    if arcgis_learn and height and width and height != width:
        emit.emit(
            "DL211",
            f"ImageHeight {height} != ImageWidth {width}: arcgis.learn uses ImageHeight for both",
            "/ImageWidth",
        )
    bands = doc.get("ExtractBands")
    if isinstance(bands, list):
        for band, count in Counter(map(json.dumps, bands)).items():
            if count > 1:
                emit.emit("DL212", f"ExtractBands lists band {band} {count} times", "/ExtractBands")
    data_range = doc.get("DataRange")
    if (
        isinstance(data_range, list)
        and len(data_range) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in data_range)
        and not data_range[0] < data_range[1]
    ):
        emit.emit(
            "DL213", f"DataRange {data_range} must be [min, max] with min < max", "/DataRange"
        )
    _check_normalization(emit, doc, bands)
    batch = _int(doc.get("BatchSize"))
    if arcgis_learn and batch and batch > 0 and math.isqrt(batch) ** 2 != batch:
        emit.emit(
            "DL215",
            f"BatchSize {batch} is rounded down to {math.isqrt(batch) ** 2} by arcgis.learn",
            "/BatchSize",
        )


def _check_normalization(emit: Emitter, doc: dict[str, Any], bands: Any) -> None:
    stats = doc.get("NormalizationStats")
    if not isinstance(stats, dict) or not isinstance(bands, list):
        return
    indexes = [b for b in bands if _int(b) is not None]
    if not indexes:
        return
    needed = max(indexes) + 1
    for key, values in stats.items():
        if isinstance(values, list) and len(values) < needed:
            emit.emit(
                "DL214",
                f"NormalizationStats.{key} has {len(values)} values but ExtractBands uses "
                f"band {needed - 1}",
                child_pointer("/NormalizationStats", key),
            )


def check_required(emit: Emitter, doc: dict[str, Any]) -> None:
    if "ModelType" not in doc:
        emit.emit("DL210", "ModelType is missing; ArcGIS tools validate it", "")
    has_framework, has_config = "Framework" in doc, "ModelConfiguration" in doc
    if has_framework != has_config:
        missing = "ModelConfiguration" if has_framework else "Framework"
        emit.emit(
            "DL404",
            f"{missing} is missing: Framework and ModelConfiguration name a module together",
            "",
        )
    if "InferenceFunction" in doc:
        return  # a custom raster function decides what it needs (e.g. GroundingDINO, §1.11 f)
    needed = ["ModelFile", "ImageHeight", "ImageWidth", "ExtractBands"]
    if not has_framework and not has_config:
        needed.insert(0, "Framework and ModelConfiguration")
    for key in needed:
        if key.startswith("Framework") or key not in doc:
            emit.emit(
                "DL209",
                f"{key} missing: the built-in raster functions need it without an "
                "InferenceFunction",
                "",
            )


def check_classes(emit: Emitter, doc: dict[str, Any]) -> None:
    model_type = _str(doc, "ModelType")
    classes = doc.get("Classes")
    if model_type in vocab.MODEL_TYPES_NEEDING_CLASSES and not classes:
        emit.emit(
            "DL301",
            f"{model_type} models map their outputs to Classes, but Classes is "
            + ("empty" if isinstance(classes, list) else "missing"),
            "/Classes" if "Classes" in doc else "",
        )
    if not isinstance(classes, list):
        return
    values: Counter[int] = Counter()
    names: Counter[str] = Counter()
    for index, entry in enumerate(classes):
        pointer = child_pointer("/Classes", index)
        if not isinstance(entry, dict):
            continue
        _check_class_keys(emit, entry, pointer)
        value, name = _int(entry.get("Value")), entry.get("Name")
        if value is not None:
            values[value] += 1
            if value < 0:
                emit.emit("DL309", f"class Value {value} is negative", f"{pointer}/Value")
        if isinstance(name, str):
            names[name] += 1
        _check_color(emit, entry, pointer)
    for value, count in values.items():
        if count > 1:
            emit.emit("DL302", f"class Value {value} is used by {count} classes", "/Classes")
    for name, count in names.items():
        if count > 1:
            emit.emit("DL303", f"class Name {name!r} is used by {count} classes", "/Classes")
    _check_value_start(emit, model_type, [v for v in values if v >= 0])


def _check_class_keys(emit: Emitter, entry: dict[str, Any], pointer: str) -> None:
    for key in entry:
        if key in ("Value", "Name", "Color"):
            continue
        target = vocab.CLASS_KEY_MISSPELLINGS.get(key)
        suggestion = closest(key, ("Value", "Name", "Color"), cutoff=0.7)
        target = target or (suggestion.value if suggestion else None)
        key_pointer = child_pointer(pointer, key)
        if target is None or target in entry:
            emit.emit(
                "DL305",
                f"class entry key {key!r} is not Value, Name or Color",
                key_pointer,
                key=True,
            )
            continue
        fix = emit.key_fix(key_pointer, target, f"rename to {target!r}", True)
        emit.emit(
            "DL305",
            f"class entry key {key!r} must be {target!r} (raster functions read Value/Name/Color)",
            key_pointer,
            key=True,
            fix=fix,
        )


def _check_color(emit: Emitter, entry: dict[str, Any], pointer: str) -> None:
    if not any(k in entry for k in ("Color", *vocab.CLASS_KEY_MISSPELLINGS)):
        emit.emit("DL306", f"class {entry.get('Name')!r} has no Color", pointer)
        return
    color = entry.get("Color")
    if color is None:
        return
    color_pointer = f"{pointer}/Color"
    if color == [-1, -1, -1]:
        emit.emit("DL307", "Color [-1, -1, -1] means no colour", color_pointer)
        return
    valid = (
        isinstance(color, list)
        and len(color) == 3
        and all(_int(c) is not None and 0 <= c <= 255 for c in color)
    )
    if not valid:
        emit.emit(
            "DL308",
            f"Color {_short(color)} must be three integers 0-255 or [-1, -1, -1]",
            color_pointer,
        )


def _check_value_start(emit: Emitter, model_type: str | None, values: list[int]) -> None:
    if not values:
        return
    if model_type in vocab.MODEL_TYPES_VALUES_FROM_ONE and 0 in values:
        emit.emit(
            "DL304",
            f"{model_type} class values start at 1: index 0 is the background, so a class "
            "with Value 0 is never detected",
            "/Classes",
        )
    elif model_type == "ImageClassification" and min(values) > 1:
        emit.emit(
            "DL304",
            f"class values start at {min(values)}; labels usually use 1..n with 0 = NoData, and "
            "channels map to ([0] + values) by position",
            "/Classes",
        )


def check_consistency(emit: Emitter, doc: dict[str, Any]) -> None:
    framework, model_type = _str(doc, "Framework"), _str(doc, "ModelType")
    configuration = configuration_name(doc)
    if isinstance(framework, str) and framework in vocab.UNRUNNABLE_FRAMEWORKS:
        emit.emit("DL403", vocab.UNRUNNABLE_FRAMEWORKS[framework], "/Framework")
    valid_type = model_type in vocab.MODEL_TYPES
    expected = vocab.CONFIGURATION_MODEL_TYPES.get((str(framework), str(configuration)))
    if valid_type and expected and model_type not in expected:
        emit.emit(
            "DL401",
            f"{framework} {configuration} models are {' or '.join(expected)}, not {model_type}",
            "/ModelType",
        )
    function = doc.get("InferenceFunction")
    if valid_type and isinstance(function, str):
        name = function.replace("\\", "/").rsplit("/", 1)[-1]
        if name in vocab.ARCGIS_INFERENCE_FUNCTIONS:
            serves = [t for t, fs in vocab.INFERENCE_FUNCTIONS_BY_MODEL_TYPE.items() if name in fs]
            if model_type not in serves:
                emit.emit(
                    "DL402",
                    f"{name} serves {' / '.join(serves)} models, not {model_type}",
                    "/InferenceFunction",
                )
