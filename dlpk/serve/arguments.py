"""The model arguments a tool form offers for a package, as ArcGIS's dialog builds them: the
tool's own (padding, batch_size, threshold, ...) with defaults from the .emd, then the raster
function's getParameterInfo, read from its syntax tree and never run."""

from __future__ import annotations

import ast
from typing import Any

#: ArcGIS task names by the .emd's ModelType.
TASKS_BY_MODEL_TYPE = {
    "ImageClassification": ("ClassifyPixelsUsingDeepLearning",),
    "ObjectDetection": ("DetectObjectsUsingDeepLearning",),
    "InstanceDetection": ("DetectObjectsUsingDeepLearning",),
    "ObjectClassification": ("ClassifyObjectsUsingDeepLearning",),
}

# (name, dataType, default, description); defaults None are filled from the .emd
_COMMON: tuple[tuple[str, str, Any, str], ...] = (
    ("padding", "long", None, "pixels of overlap on each side of a tile"),
    ("batch_size", "long", None, "tiles per forward pass"),
    ("tile_size", "long", None, "tile height and width in pixels"),
    ("edge_fill", "string", "zero", "how tiles are filled past the raster's edge"),
)
_TOOL_ARGUMENTS: dict[str, tuple[tuple[str, str, Any, str], ...]] = {
    "ClassifyPixelsUsingDeepLearning": (
        *_COMMON,
        ("predict_background", "boolean", None, "whether the background class may win"),
        ("test_time_augmentation", "boolean", False, "merge flipped and rotated predictions"),
        ("merge_policy", "string", "mean", "how augmented predictions are merged"),
    ),
    "DetectObjectsUsingDeepLearning": (
        *_COMMON,
        ("threshold", "double", None, "the lowest confidence kept (0-1)"),
        ("nms_overlap", "double", 0.1, "boxes overlapping more are merged (0-1)"),
        ("nms_metric", "string", "iou", "how overlap is measured"),
        ("exclude_pad_detections", "boolean", True, "drop detections in a tile's padding"),
        ("test_time_augmentation", "boolean", False, "merge flipped and rotated detections"),
        ("tta_scales", "string", "1", "comma list of tile scale factors"),
    ),
    "ClassifyObjectsUsingDeepLearning": (("batch_size", "long", None, "chips per pass"),),
}
_CHOICES = {
    "edge_fill": ["zero", "reflect"],
    "merge_policy": ["mean", "max", "min"],
    "nms_metric": ["iou", "ios"],
}
#: getParameterInfo entries the tool fills itself, not the user.
_TOOL_OWN = frozenset({"raster", "model", "device"})


def model_tasks(description: dict[str, Any]) -> list[str]:
    return list(TASKS_BY_MODEL_TYPE.get(str(description.get("model_type")), ()))


def tool_arguments(description: dict[str, Any], function_source: bytes | None) -> list[Any]:
    """The form's arguments: the tool's for each task the model runs, then the function's."""
    emd_defaults = {
        "padding": description.get("padding", {}).get("pixels"),
        "tile_size": description.get("tile", {}).get("height"),
        "batch_size": 4,
        "threshold": 0.5,
    }
    found: dict[str, dict[str, Any]] = {}
    for task in model_tasks(description):
        for name, kind, default, text in _TOOL_ARGUMENTS[task]:
            found.setdefault(
                name,
                _argument(
                    name,
                    kind,
                    default if default is not None else emd_defaults.get(name),
                    text,
                    _CHOICES.get(name),
                ),
            )
    if function_source is not None:
        for entry in function_parameters(function_source):
            found[entry["name"]] = entry
    return list(found.values())


def _argument(
    name: str, kind: str, default: Any, description: str, choices: list[Any] | None
) -> dict[str, Any]:
    return {
        "name": name,
        "dataType": kind,
        "defaultValue": default,
        "displayName": name.replace("_", " ").capitalize(),
        "description": description,
        "required": False,
        "choices": choices,
    }


def function_parameters(source: bytes) -> list[dict[str, Any]]:
    """getParameterInfo's literal entries (dicts with a "name"), as the form shows them."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    entries: list[dict[str, Any]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "getParameterInfo":
            for item in ast.walk(node):
                if isinstance(item, ast.Dict):
                    entry = _literal_entry(item)
                    if entry is not None and entry["name"] not in _TOOL_OWN:
                        entries.append(entry)
    return entries


def _literal_entry(node: ast.Dict) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if not isinstance(key, ast.Constant) or not isinstance(key.value, str):
            continue
        try:
            values[key.value] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
    name = values.get("name")
    if not isinstance(name, str):
        return None
    kind = str(values.get("dataType", "string")).lower()
    domain = values.get("domain")
    return {
        "name": name,
        "dataType": kind if kind in ("string", "long", "double", "boolean") else "string",
        "defaultValue": values.get("value"),
        "displayName": str(values.get("displayName", name)),
        "description": str(values.get("description", "")),
        "required": bool(values.get("required", False)),
        "choices": list(domain) if isinstance(domain, list | tuple) else None,
    }
