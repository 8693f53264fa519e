"""CF2: the configuration's contract, on a raster built from the .emd through the real task."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlpk.conformance.checks.common import (
    base_run,
    class_names,
    class_values,
    classified,
    features,
    geometry,
    probed,
    raster,
)
from dlpk.conformance.context import DETECTOR, OBJECTS, PIXELS, ModelContext
from dlpk.conformance.outcome import Outcome, failed, passed, warned
from dlpk.conformance.outputs import read_features
from dlpk.conformance.probes import read_tiles
from dlpk.conformance.registry import MODEL_CHECKS

#: Detector configurations whose Confidence is the model's 0-1 score (the rest: 0-100).
SCORE_CONFIDENCE = {("TensorFlow", "ObjectDetectionAPI")}


@MODEL_CHECKS.register(
    "CF201", "contract.runs", "a raster built from the .emd goes through the real task"
)
def runs(context: ModelContext) -> Outcome:
    run = context.base()
    test = raster(context)
    described = f"{test.height}x{test.width} px, {test.bands} band(s) of {test.dtype}"
    if not run.ok:
        error = run.error
        hint = error.hint if error is not None else None
        return failed(
            f"`dlpk {context.task}` failed on the test raster ({described}): {run.failure()}",
            hint or "run the task yourself with --debug to see where it fails",
            raster=described,
            error=type(error).__name__ if error is not None else None,
            exit_code=error.exit_code if error is not None else None,
        )
    assert run.result is not None
    return passed(
        f"`dlpk {context.task}` ran on {described} in {run.seconds:.2f} s",
        raster=described,
        counts=run.result.counts,
        warnings=run.result.warnings,
    )


@MODEL_CHECKS.register(
    "CF202", "contract.outputs", "outputs have the contract's shape, type and value range"
)
def outputs(context: ModelContext) -> Outcome:
    run = base_run(context)
    if context.task == PIXELS:
        return _pixel_outputs(context, run)
    if context.task == DETECTOR:
        return _detector_outputs(context, run)
    return _object_outputs(context, run)


def _pixel_outputs(context: ModelContext, run: Any) -> Outcome:
    found, test = classified(run), raster(context)
    problems = []
    if found.count != 1:
        problems.append(f"{found.count} bands, not 1")
    if np.dtype(found.dtype).kind not in "iu":
        problems.append(f"pixel type {found.dtype}, not an integer type")
    if found.values.shape != (test.height, test.width):
        problems.append(f"{found.values.shape} px, not the input's {(test.height, test.width)}")
    if not found.transform.almost_equals(test.transform) or found.crs != test.crs:
        problems.append("a grid (transform or CRS) other than the input's")
    if found.nodata is None:
        problems.append("no nodata value")
    allowed = {*class_values(context), 0}  # 0 only as background: CF203 judges it
    written = sorted(int(v) for v in np.unique(found.values[found.valid]))
    strangers = [v for v in written if v not in allowed]
    if strangers:
        problems.append(f"Values {strangers} that are no class in Classes")
    evidence = {"values": written, "dtype": found.dtype, "nodata": found.nodata}
    if problems:
        return failed(
            f"the classified raster has {'; '.join(problems)}",
            "a PixelClassifier returns one [N, K, H, W] score per channel of the input's size "
            "(`dlpk configurations`); a raster function's updatePixels writes class Values",
            **evidence,
        )
    return passed(
        f"one band of {found.dtype} class Values {written} on the input's grid", **evidence
    )


def _detector_outputs(context: ModelContext, run: Any) -> Outcome:
    found = features(run)
    test = raster(context)
    problems = []
    kinds = sorted(set(found.geometry_types) - {"Polygon", "MultiPolygon"})
    if kinds:
        problems.append(f"geometries of type {kinds}, not polygons")
    if not context.runs_function:
        missing = [n for n in ("Class", "ClassValue", "Confidence") if found.column(n) is None]
        if missing:
            problems.append(f"no {', '.join(missing)} field")
        values, names = class_values(context), class_names(context)
        column = found.column("ClassValue")
        if column is not None:
            strangers = sorted({int(v) for v in column} - set(values))
            if strangers:
                problems.append(f"ClassValue {strangers} that are no class in Classes")
        labels = found.column("Class")
        if labels is not None and column is not None:
            by_value = dict(zip(values, names, strict=True))
            wrong = [
                str(n) for n, v in zip(labels, column, strict=True) if by_value.get(int(v)) != n
            ]
            if wrong:
                problems.append(f"Class names that do not match their ClassValue: {wrong[:3]}")
        confidence = found.column("Confidence")
        assert context.configuration is not None
        key = (context.configuration.framework, context.configuration.name)
        top = 1.0 if key in SCORE_CONFIDENCE else 100.0
        if confidence is not None and len(confidence):
            scores = np.asarray(confidence, dtype=np.float64)
            if not np.isfinite(scores).all() or scores.min() < 0 or scores.max() > top:
                problems.append(f"Confidence outside 0..{top:g}")
    boxes = found.boxes
    outside = 0
    if len(boxes):
        finite = np.isfinite(boxes).all(axis=1)
        outside = int((~finite).sum()) + int(
            (
                (boxes[finite, 0] < -0.5)
                | (boxes[finite, 1] < -0.5)
                | (boxes[finite, 2] > test.width + 0.5)
                | (boxes[finite, 3] > test.height + 0.5)
            ).sum()
        )
    if outside:
        problems.append(f"{outside} feature(s) outside the raster")
    evidence = {"detections": len(found), "fields": sorted(found.columns)}
    if problems:
        return failed(
            f"the detections have {'; '.join(problems)}",
            "an ObjectDetector returns boxes [N, M, 4] (x1, y1, x2, y2 in tile pixels), scores "
            "[N, M] 0-1 and labels [N, M] indexing Classes from 1 (`dlpk configurations`)",
            **evidence,
        )
    if not len(found):
        return passed(
            "no detection on the test raster: the layer's fields are right, and there is "
            "nothing more to check here (pass --raster with objects the model finds)",
            **evidence,
        )
    return passed(f"{len(found)} polygon(s) with the contract's fields and ranges", **evidence)


def _object_outputs(context: ModelContext, run: Any) -> Outcome:
    found = features(run)
    names = set(class_names(context))
    problems = []
    label = found.column("ClassLabel")
    if label is None:
        problems.append("no ClassLabel field")
    else:
        given = {str(v) for v in label if v is not None and str(v) not in ("", "None", "nan")}
        split = {part for text in given for part in text.split(";")}
        strangers = sorted(split - names)
        if strangers and not context.runs_function:
            problems.append(f"labels {strangers} that are no class in Classes")
    sent = len(read_features(context.folder / "features.geojson", raster(context).transform))
    if len(found) != sent:
        problems.append(f"{len(found)} features written for {sent} given")
    evidence = {"features": len(found), "fields": sorted(found.columns)}
    if problems:
        return failed(
            f"the classified features have {'; '.join(problems)}",
            "an ObjectClassifier returns one [N, K] score per class for each chip",
            **evidence,
        )
    return passed(f"{len(found)} feature(s) with ClassLabel, ClassValue and Confidence", **evidence)


@MODEL_CHECKS.register(
    "CF203", "contract.classes", "output channels map to Classes as the runner maps them"
)
def classes(context: ModelContext) -> Outcome:
    if context.task == DETECTOR:
        return _detector_labels(context)
    if context.runs_function or context.adapter is None:
        return _written_classes(context)
    return _channels(context)


def _channels(context: ModelContext) -> Outcome:
    """K output channels against N classes: one each, or background first
    (docs/esri-formats.md#classes)."""
    adapter = probed(context)
    assert context.emd is not None and context.raster is not None
    values, names = class_values(context), class_names(context)
    if context.task == OBJECTS:
        tile = np.zeros(
            (1, _bands(context), geometry(context).tile_height, geometry(context).tile_width),
            dtype=np.float32,
        )
    else:
        tile = read_tiles(
            context.raster.path, context.emd, _normalised(context), geometry(context), 1
        )
    output = np.asarray(adapter.forward(tile)[0])
    channels = int(output.shape[1]) if output.ndim >= 2 else 0
    mapping = [
        {"channel": i, "Value": v, "Name": n}
        for i, (v, n) in enumerate(zip(values, names, strict=True))
    ]
    if channels == len(values):
        return passed(
            f"{channels} channels for {len(values)} classes: channel i is Classes[i]",
            channels=channels,
            mapping=mapping,
        )
    if channels != len(values) + 1:
        return failed(
            f"the model outputs {channels} channels for {len(values)} classes",
            "output one channel per class in Classes (or one more, background, first)",
            channels=channels,
            classes=len(values),
        )
    background = {"channel": 0, "Value": 0, "Name": "(background)"}
    shifted = [{**m, "channel": int(str(m["channel"])) + 1} for m in mapping]
    evidence: dict[str, Any] = {"channels": channels, "mapping": [background, *shifted]}
    if str(context.options.arguments.get("predict_background", "")).lower() == "false":
        return warned(
            f"{channels} channels for {len(values)} classes: channel 0 is read as background "
            "and predict_background=False keeps it from ever winning",
            "drop the background channel from the model, or list it in Classes",
            **evidence,
        )
    won = _zeros_written(context)
    evidence["background_pixels"] = won
    fix = (
        'if channel 0 is background, list it: add {"Value": 0, "Name": "Background"} first in '
        "Classes; otherwise export one channel per class"
    )
    if won:
        return failed(
            f"the model outputs {channels} channels for {len(values)} classes: channel 0 is "
            f"read as background and won {won} pixels of the test raster, written as 0, a "
            "Value Classes does not list (arcgis.learn's classifier would suppress it when no "
            "class has Value 0: the runners disagree)",
            fix,
            **evidence,
        )
    return warned(
        f"{channels} channels for {len(values)} classes: channel 0 is read as background "
        "(it won no pixel of the test raster)",
        fix,
        **evidence,
    )


def _zeros_written(context: ModelContext) -> int:
    if context.task != PIXELS or 0 in class_values(context):
        return 0
    found = classified(base_run(context))
    return int(((found.values == 0) & found.valid).sum())


def _written_classes(context: ModelContext) -> Outcome:
    """A raster function (or a model not loaded here): judged by what the task wrote."""
    run = base_run(context)
    if context.task == PIXELS:
        found = classified(run)
        written = sorted(int(v) for v in np.unique(found.values[found.valid]))
        strangers = [v for v in written if v not in class_values(context)]
        if strangers:
            return failed(
                f"the output holds Values {strangers}, which are no class in Classes",
                "write only the Values Classes lists (or add the missing classes)",
                values=written,
            )
        return passed(f"every Value written ({written}) is a class in Classes", values=written)
    layer = features(run)
    label = layer.column("ClassLabel")
    given = sorted({str(v) for v in label if v not in (None, "")}) if label is not None else []
    unknown = [g for g in given if any(p not in class_names(context) for p in g.split(";"))]
    if unknown:
        return failed(
            f"labels {unknown} are no class in Classes",
            "return Labels named as Classes' Names",
            labels=given,
        )
    return passed(f"every label written ({given}) names a class in Classes", labels=given)


def _detector_labels(context: ModelContext) -> Outcome:
    """A detector's labels over the test raster's tiles: each must name a class."""
    if context.runs_function or context.adapter is None:
        run = base_run(context)
        found = features(run)
        column = found.column("ClassValue")
        if column is None:
            return passed(
                "the function's own fields: no ClassValue to check", fields=sorted(found.columns)
            )
        strangers = sorted({int(v) for v in column} - set(class_values(context)))
        if strangers:
            return failed(
                f"ClassValue {strangers} are no class in Classes",
                "write Values that Classes lists",
                values=strangers,
            )
        return passed("every ClassValue written is a class in Classes")
    adapter = probed(context)
    assert context.emd is not None and context.raster is not None
    tiles = read_tiles(
        context.raster.path, context.emd, _normalised(context), geometry(context), 16
    )
    labels: list[float] = []
    scores: list[float] = []
    for start in range(0, len(tiles), max(1, context.batch_size)):
        out = adapter.forward(tiles[start : start + max(1, context.batch_size)])
        if len(out) < 3:
            return failed(
                f"the detector returns {len(out)} outputs, not boxes, scores, labels",
                "return boxes, scores and labels (`dlpk configurations`)",
            )
        score = np.asarray(out[1], dtype=np.float64).ravel()
        label = np.asarray(out[2], dtype=np.float64).ravel()
        kept = score >= context.threshold
        labels += label[kept].tolist()
        scores += score[kept].tolist()
    count = len(class_values(context))
    given = np.asarray(labels)
    beyond = sorted({int(v) for v in given[(given > count) | (given != np.round(given))]})
    evidence = {"detections": len(labels), "labels": sorted({int(v) for v in given if v >= 1})}
    if beyond:
        return failed(
            f"the model labels objects {beyond}, beyond the {count} classes in Classes: the "
            "runner drops those detections without a word",
            "labels index Classes from 1 (0 or less: no object); list every class the model "
            "predicts in Classes, in the model's order",
            **evidence,
        )
    if scores and (min(scores) < 0 or max(scores) > 1):
        return failed("scores outside 0..1", "return scores as probabilities 0..1", **evidence)
    return passed(
        f"{len(labels)} detection(s) above the threshold, every label a class", **evidence
    )


def _normalised(context: ModelContext) -> bool:
    return context.configuration is None or context.configuration.normalised


def _bands(context: ModelContext) -> int:
    from dlpk.conformance.synthetic import band_layout

    assert context.emd is not None
    extract = context.emd.ExtractBands
    if isinstance(extract, list):
        return len(extract)
    return band_layout(context.emd)[0]
