"""Rules over what an .emd says it is: JSON syntax, key names, vocabulary, required keys.

These read the document's names rather than its numbers: whether the text is JSON that ArcGIS
loads, whether it is a model definition at all (not the Export Training Data manifest), whether
keys and enumerated values are spelt as ArcGIS knows them, which keys the built-in raster functions
need, and whether Framework, ModelConfiguration, ModelType and InferenceFunction fit together.
"""

from __future__ import annotations

from typing import Any

from dlpk.spec import vocab
from dlpk.spec.emd_schema import canonical_key_order
from dlpk.validator.diagnostics import Fix, Severity
from dlpk.validator.docvalues import configuration_name, file_name, str_value
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


def check_syntax(emit: Emitter) -> None:
    for issue in emit.source.parsed.issues:
        code = _SYNTAX_CODES[issue.kind]
        fix = None
        if issue.edits is not None:
            fix = Fix(_SYNTAX_FIX_TEXT[issue.kind], issue.kind != "comment", issue.edits)
        emit.emit(code, issue.message, issue.pointer, offset=issue.offset, fix=fix)


def is_training_data_manifest(doc: dict[str, Any]) -> bool:
    """The Export Training Data template (docs/esri-formats.md#bookkeeping-keys): placeholder
    strings, or data-only metadata."""
    placeholders = any(
        isinstance(doc.get(k), str) and doc[k].startswith(_TEMPLATE_HINT)
        for k in ("Framework", "ModelType", "ModelFile", "ImageHeight", "ImageWidth")
    )
    band_note = any(k.startswith("WellKnownBandNames") for k in doc)
    data_only = "MetaDataMode" in doc and "ModelFile" not in doc and "InferenceFunction" not in doc
    return placeholders or band_note or data_only


def check_manifest(emit: Emitter, doc: dict[str, Any]) -> bool:
    """DL601: an error inside a package (it cannot run), a warning for a loose file (it is
    probably just the export's own metadata, linted by mistake)."""
    if not is_training_data_manifest(doc):
        return False
    mode = doc.get("MetaDataMode")
    written = "the metadata file written by Export Training Data" + (
        f" ({mode})" if isinstance(mode, str) else ""
    )
    if emit.source.in_package:
        message = (
            f"this package's .emd is {written}: it describes training chips, not a trained "
            "model, so no inference tool can run the package; train a model and package its .emd"
        )
        emit.emit("DL601", message, "")
    else:
        message = (
            f"this is {written}: it describes training chips, not a trained model; train a "
            "model and lint its .emd"
        )
        emit.emit("DL601", message, "", severity=Severity.WARNING)
    return True


#: Unknown keys checked for a misspelling; a document with more is not a hand-written .emd, and
#: each check costs a fuzzy match against every known key.
MAX_SPELLING_CHECKS = 500


def check_keys(emit: Emitter, doc: dict[str, Any]) -> None:
    known = set(canonical_key_order())
    unknown = [key for key in doc if key not in known and key not in vocab.KNOWN_EXTRA_KEYS]
    for key in unknown[:MAX_SPELLING_CHECKS]:
        suggestion = closest(key, canonical_key_order(), cutoff=0.85)
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
    """ModelType and ImageSpaceUsed; Framework and ModelConfiguration are framework_rules'."""
    _enum_check(emit, doc, "ModelType", vocab.MODEL_TYPES, "DL202")
    _enum_check(emit, doc, "ImageSpaceUsed", vocab.IMAGE_SPACES, "DL205")


def check_required(emit: Emitter, doc: dict[str, Any]) -> None:
    if "ModelType" not in doc:
        emit.emit("DL210", _missing_model_type(doc), "")
    has_framework, has_config = "Framework" in doc, "ModelConfiguration" in doc
    if has_framework != has_config:
        missing = "ModelConfiguration" if has_framework else "Framework"
        emit.emit(
            "DL404",
            f"{missing} is missing: Framework and ModelConfiguration name a module together",
            "",
        )
    if "InferenceFunction" in doc:
        return  # a custom raster function decides what it needs (e.g. GroundingDINO)
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


def _missing_model_type(doc: dict[str, Any]) -> str:
    """DL210's message, naming the ModelType the configuration or the function implies."""
    configuration = configuration_name(doc)
    types = vocab.CONFIGURATION_MODEL_TYPES.get((str(doc.get("Framework")), str(configuration)))
    source = f"{configuration} models"
    function = doc.get("InferenceFunction")
    if not types and isinstance(function, str):
        name = file_name(function)
        types = tuple(t for t, fs in vocab.INFERENCE_FUNCTIONS_BY_MODEL_TYPE.items() if name in fs)
        source = f"what {name} serves"
    add = (
        f'add "ModelType": "{types[0]}" ({source})'
        if types and len(types) == 1
        else 'add the ModelType it was trained as (e.g. "ObjectDetection")'
    )
    return (
        "ModelType is missing: Classify Objects accepts that, but whether Detect Objects and "
        f"Classify Pixels do is not documented; {add}"
    )


def check_consistency(emit: Emitter, doc: dict[str, Any]) -> None:
    framework, model_type = str_value(doc, "Framework"), str_value(doc, "ModelType")
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
        name = file_name(function)
        if name in vocab.ARCGIS_INFERENCE_FUNCTIONS:
            serves = [t for t, fs in vocab.INFERENCE_FUNCTIONS_BY_MODEL_TYPE.items() if name in fs]
            if model_type not in serves:
                emit.emit(
                    "DL402",
                    f"{name} serves {' / '.join(serves)} models, not {model_type}",
                    "/InferenceFunction",
                )
