"""Rules over Classes: the raster functions map model outputs to pixel values and colours by them.

Each entry must be exactly `{Value, Name, Color}` and values must be unique. Names may repeat
(Esri's xView example names 35 classes "Clutter"), and a detection class may have Value 0: the
detection functions name a detection by its position in Classes, never by its Value
(docs/esri-formats.md#classes).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dlpk.spec import vocab
from dlpk.validator.docvalues import int_value, short_json, str_value
from dlpk.validator.emitter import Emitter
from dlpk.validator.jsontext import child_pointer
from dlpk.validator.suggest import closest

CLASS_KEYS = ("Value", "Name", "Color")


def check_classes(emit: Emitter, doc: dict[str, Any]) -> None:
    model_type = str_value(doc, "ModelType")
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
    names: dict[str, list[Any]] = {}
    for index, entry in enumerate(classes):
        pointer = child_pointer("/Classes", index)
        if not isinstance(entry, dict):
            continue
        _check_class_keys(emit, entry, pointer)
        value, name = int_value(entry.get("Value")), entry.get("Name")
        if value is not None:
            values[value] += 1
            if value < 0:
                emit.emit("DL309", f"class Value {value} is negative", f"{pointer}/Value")
        if isinstance(name, str):
            names.setdefault(name, []).append(entry.get("Value"))
        _check_color(emit, entry, pointer)
    for value, count in values.items():
        if count > 1:
            emit.emit("DL302", f"class Value {value} is used by {count} classes", "/Classes")
    for name, shared in names.items():
        if len(shared) > 1:
            shown = ", ".join(map(str, shared[:5])) + (", ..." if len(shared) > 5 else "")
            emit.emit(
                "DL303",
                f"class Name {name!r} is used by {len(shared)} classes (Values {shown}): their "
                "outputs carry the same label, which ArcGIS allows; give each its own Name "
                "unless they are meant to read alike",
                "/Classes",
            )
    _check_value_start(emit, model_type, classes, [v for v in values if v >= 0])


def _check_class_keys(emit: Emitter, entry: dict[str, Any], pointer: str) -> None:
    for key in entry:
        if key in CLASS_KEYS:
            continue
        target = vocab.CLASS_KEY_MISSPELLINGS.get(key)
        suggestion = closest(key, CLASS_KEYS, cutoff=0.7)
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
        and all(int_value(c) is not None and 0 <= c <= 255 for c in color)
    )
    if not valid:
        emit.emit(
            "DL308",
            f"Color {short_json(color)} must be three integers 0-255 or [-1, -1, -1]",
            color_pointer,
        )


def _check_value_start(
    emit: Emitter, model_type: str | None, classes: list[Any], values: list[int]
) -> None:
    """Notes only: neither start stops ArcGIS, but a reader may have meant something else."""
    if not values:
        return
    if model_type in vocab.MODEL_TYPES_VALUES_FROM_ONE and 0 in values:
        index = next(
            i
            for i, c in enumerate(classes)
            if isinstance(c, dict) and int_value(c.get("Value")) == 0
        )
        name = classes[index].get("Name")
        emit.emit(
            "DL304",
            f"class {name!r} has Value 0, which is only a label: Detect Objects names a "
            "detection by its position in Classes (the model's class k is Classes[k-1]), so "
            "it runs as written; number classes from 1 only to retrain with arcgis.learn, "
            "whose MaskRCNN training requires it",
            child_pointer("/Classes", index),
        )
    elif model_type == "ImageClassification" and min(values) > 1:
        emit.emit(
            "DL304",
            f"class values start at {min(values)}: Classify Pixels maps output channel i to "
            f"([0] + values)[i], so channel 1 becomes {min(values)}; check that the model's "
            "channel 1 is that class (label rasters usually use 1..n with 0 = NoData)",
            "/Classes",
        )
