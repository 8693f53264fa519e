"""The four raster analysis tasks as ArcGIS's REST API names them, and how a submitJob's
parameters (ArcGIS's names, JSON values or form text) become one dlpk.api call.

A parameter ArcGIS has and dlpk does without (runNMS, confidenceScoreField, ...) is accepted
and answered with a warning that says what dlpk does instead, from the same table the command
line uses (dlpk/cli/arcgis_names.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.cli.arcgis_names import TOOLS, unmapped
from dlpk.errors import UsageError

PathResolver = Callable[[str, Any], Path]
"""(parameter name, value) -> a real path on the server, checked."""

RASTER = "GPRasterDataLayer"
FEATURES = "GPFeatureRecordSetLayer"
FOLDER = "GPDataFile"  # a folder, downloaded as a .zip


@dataclass(frozen=True)
class Task:
    """One task: the dlpk.api function, its command's name (for arcgis_names), its output
    parameter and what that holds, and the parameters it takes: REST name -> (keyword, kind)."""

    function: str
    command: str
    output: str
    data_type: str
    suffix: str
    parameters: dict[str, tuple[str, str]]
    output_aliases: tuple[str, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)


_INFERENCE = {
    "inputRaster": ("raster", "path"),
    "model": ("model", "model"),
    "modelArguments": ("model_arguments", "arguments"),
    "arguments": ("model_arguments", "arguments"),
}

TASKS: dict[str, Task] = {
    "ClassifyPixelsUsingDeepLearning": Task(
        "classify_pixels",
        "classify-pixels",
        "outputClassifiedRaster",
        RASTER,
        ".tif",
        {**_INFERENCE, "processingMode": ("processing_mode", "mode")},
    ),
    "DetectObjectsUsingDeepLearning": Task(
        "detect_objects",
        "detect-objects",
        "outputObjects",
        FEATURES,
        ".gpkg",
        {**_INFERENCE, "maxOverlapRatio": ("nms_overlap", "argument")},
    ),
    "ClassifyObjectsUsingDeepLearning": Task(
        "classify_objects",
        "classify-objects",
        "outputObjects",
        FEATURES,
        ".gpkg",
        {
            **_INFERENCE,
            "inputFeatures": ("features", "path"),
            "inFeatures": ("features", "path"),
            "featuresLayer": ("features_layer", "str"),
        },
        output_aliases=("outputFeatureClass",),
    ),
    "ExportTrainingDataforDeepLearning": Task(
        "export_training_data",
        "export-chips",
        "outputLocation",
        FOLDER,
        "",
        {
            "inputRaster": ("raster", "path"),
            "inputClassData": ("labels", "path"),
            "chipFormat": ("image_chip_format", "str"),
            "tileSizeX": ("tile_size", "int"),
            "tileSizeY": ("tile_size_y", "int"),
            "strideX": ("stride", "int"),
            "strideY": ("stride_y", "int"),
            "metadataFormat": ("metadata_format", "str"),
            "outputNoFeatureTiles": ("output_nofeature_tiles", "str"),
            "classValueField": ("class_value_field", "str"),
            "bufferRadius": ("buffer_radius", "float"),
            "inputMaskPolygons": ("mask_polygons", "path"),
            "rotationAngle": ("rotation_angle", "float"),
            "referenceSystem": ("reference_system", "str"),
            "processAllRasterItems": ("processing_mode", "all_items"),
            "processingMode": ("processing_mode", "str"),
            "blackenAroundFeature": ("blacken_around_feature", "blacken"),
            "cropMode": ("crop_mode", "str"),
            "additionalInputRaster": ("raster2", "path"),
            "inputInstanceData": ("instance_data", "path"),
            "instanceClassValueField": ("instance_class_value_field", "str"),
            "minPolygonOverlapRatio": ("min_polygon_overlap_ratio", "float"),
        },
        output_aliases=("outputFolder",),
    ),
}

#: Parameters every task takes without passing them to the task function.
_GENERAL = ("outputName", "f", "context", "processorType", "returnZ", "returnM")


@dataclass
class Submission:
    """A submitJob's parameters, resolved: the API call and the output it writes."""

    task: str
    inputs: dict[str, Path] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    output_name: str = ""
    data_type: str = ""  # the output's: the task's, or a folder of items
    warnings: list[str] = field(default_factory=list)


def parse_submission(
    task_name: str, values: dict[str, Any], resolve: PathResolver, model_ok: Callable[[str], Any]
) -> Submission:
    """Check and convert `values` (ArcGIS's names) for `task_name`; `resolve` turns an input
    into a checked server path, `model_ok` checks a model item id."""
    task = TASKS.get(task_name)
    if task is None:
        raise UsageError(f"unknown task {task_name!r}", f"use one of {', '.join(TASKS)}")
    sub = Submission(task_name)
    arguments: dict[str, str] = {}
    for name, value in values.items():
        if value is None or value == "":
            continue
        if name in task.parameters:
            keyword, kind = task.parameters[name]
            _take(sub, task, name, keyword, kind, value, resolve, arguments)
        elif name in (task.output, *task.output_aliases):
            sub.output_name = _output_name(name, value)
        elif name == "outputName":
            sub.output_name = sub.output_name or _output_name(name, value)
        elif name in ("processorType", "context"):
            _context(sub, name, value)
        elif name in _GENERAL:
            continue
        else:
            note = _unmapped_note(task, name)
            if note is None:
                known = sorted({*task.parameters, task.output, *task.output_aliases})
                raise UsageError(
                    f"{task_name} has no parameter {name!r}", f"it takes: {', '.join(known)}"
                )
            sub.warnings.append(f"{name} is not used: {note}")
    if arguments:
        sub.options["model_arguments"] = arguments | sub.options.get("model_arguments", {})
    if "raster" not in sub.inputs:
        raise UsageError(f"{task_name}: inputRaster is required")
    if task.function != "export_training_data" and sub.model_id is None:
        raise UsageError(f"{task_name}: model is required", "give a model item id (GET /models)")
    if sub.model_id is not None:
        model_ok(sub.model_id)
    _merge_sizes(sub)
    items = sub.options.get("processing_mode") == "PROCESS_ITEMS_SEPARATELY"
    folder = items and task.function == "classify_pixels"  # one GeoTIFF per image
    sub.data_type = FOLDER if folder else task.data_type
    sub.output_name = _safe_name(sub.output_name or task.output) + ("" if folder else task.suffix)
    return sub


def _take(
    sub: Submission,
    task: Task,
    name: str,
    keyword: str,
    kind: str,
    value: Any,
    resolve: PathResolver,
    arguments: dict[str, str],
) -> None:
    if kind == "path":
        sub.inputs[keyword] = resolve(name, value)
    elif kind == "model":
        sub.model_id = _model_id(value)
    elif kind == "arguments":
        sub.options["model_arguments"] = model_arguments(value)
    elif kind == "argument":
        arguments[keyword] = _text(name, value)
    elif kind == "mode":
        sub.options[keyword] = _text(name, value)
    elif kind == "int":
        sub.options[keyword] = _number(name, value, int)
    elif kind == "float":
        sub.options[keyword] = _number(name, value, float)
    elif kind == "all_items":
        items = _flag(name, value)
        sub.options[keyword] = "PROCESS_ITEMS_SEPARATELY" if items else "PROCESS_AS_MOSAICKED_IMAGE"
    elif kind == "blacken":
        text = _text(name, value).upper()
        sub.options[keyword] = text == "BLACKEN_AROUND_FEATURE" or _flag(name, value, strict=False)
    else:
        sub.options[keyword] = _text(name, value)


def model_arguments(value: Any) -> dict[str, str]:
    """ArcGIS's "name value;name value" text, a JSON object (or its text), or arcgis.learn's
    list of {"name", "value"} rows, as text values."""
    from dlpk.api import model_argument_strings
    from dlpk.cli.inference import parse_pairs

    if isinstance(value, str) and value.lstrip().startswith("["):
        value = _json("modelArguments", value)
    if isinstance(value, list):
        rows = [r for r in value if isinstance(r, dict) and "name" in r]
        value = {str(r["name"]): r.get("value", "") for r in rows}
    if isinstance(value, dict):
        return model_argument_strings({str(k): v for k, v in value.items()})
    try:
        return parse_pairs([("--arguments", str(value))])
    except UsageError as exc:
        raise UsageError(str(exc).replace("--arguments", "modelArguments", 1)) from None


def _model_id(value: Any) -> str:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = _json("model", value)
    if isinstance(value, dict):
        value = value.get("itemId") or value.get("id") or value.get("url") or ""
    text = str(value).strip().rstrip("/")
    return text.rsplit("/", 1)[-1]  # ".../models/ID" or the id alone


def _output_name(name: str, value: Any) -> str:
    """`outputClassifiedRaster` as a name, or ArcGIS's {"serviceProperties": {"name"}}."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = _json(name, value)
    if isinstance(value, dict):
        props = value.get("serviceProperties")
        value = (props.get("name") if isinstance(props, dict) else None) or value.get("name", "")
    return str(value)


def _context(sub: Submission, name: str, value: Any) -> None:
    """processorType (CPU/GPU) and the context's extent, as the task's device and extent."""
    if name == "context":
        if isinstance(value, str):
            value = _json(name, value)
        if not isinstance(value, dict):
            raise UsageError("context: expected a JSON object")
        if "processorType" in value:
            _context(sub, "processorType", value["processorType"])
        extent = value.get("extent")
        if isinstance(extent, dict) and "xmin" in extent and TASKS[sub.task].suffix != "":
            keys = ("xmin", "ymin", "xmax", "ymax")
            sub.options["extent"] = [_number("extent", extent[k], float) for k in keys]
        return
    device = {"CPU": "cpu", "GPU": "gpu"}.get(_text(name, value).upper())
    if device is None:
        raise UsageError(f"processorType {value!r}: expected CPU or GPU")
    if TASKS[sub.task].suffix != "":
        sub.options["device"] = device


def _merge_sizes(sub: Submission) -> None:
    """tileSizeX/Y and strideX/Y as export_training_data's (x, y) pairs."""
    for x, y in (("tile_size", "tile_size_y"), ("stride", "stride_y")):
        if y in sub.options:
            second = sub.options.pop(y)
            sub.options[x] = [sub.options.get(x, second), second]


def _unmapped_note(task: Task, name: str) -> str | None:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    found = unmapped(task.command, "--" + snake.replace("_", "-"))
    if found is not None:
        return found.note
    return {
        "runNMS": "detections are always merged across tiles by class-aware NMS",
        "confidenceScoreField": "the field is always Confidence",
        "classLabelField": "the field is always ClassLabel",
        "useFilterByFeatureGeometries": f"not a parameter of {TOOLS[task.command]} here",
    }.get(name)


def _safe_name(text: str) -> str:
    """An output name kept to a plain file name."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(text).name).strip("._")
    for suffix in (".tif", ".tiff", ".gpkg", ".zip"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem[:100] or "output"


def _json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name}: not valid JSON ({exc.msg})") from None


def _text(name: str, value: Any) -> str:
    if isinstance(value, dict | list):
        raise UsageError(f"{name}: expected a value, not {type(value).__name__}")
    return str(value).strip()


def _number(name: str, value: Any, kind: type[int] | type[float]) -> Any:
    try:
        return kind(value) if not isinstance(value, bool) else _bad_number(name, value)
    except (TypeError, ValueError):
        _bad_number(name, value)


def _bad_number(name: str, value: Any) -> Any:
    raise UsageError(f"{name}={value!r}: not a number")


def _flag(name: str, value: Any, strict: bool = True) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no") or not strict:
        return False
    raise UsageError(f"{name}={value!r}: expected true or false")
