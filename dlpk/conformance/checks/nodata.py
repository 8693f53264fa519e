"""CF5: nodata and edges. No class or detection on nodata, no NaN anywhere, and every valid
pixel up to the raster's last row and column classified."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlpk.conformance.checks.common import (
    base_run,
    classified,
    features,
    geometry,
    in_box,
    probed,
    raster,
)
from dlpk.conformance.context import DETECTOR, OBJECTS, PIXELS, ModelContext
from dlpk.conformance.features import ACROSS_EDGE, ON_NODATA
from dlpk.conformance.outcome import NotApplicable, Outcome, failed, passed
from dlpk.conformance.probes import not_finite, read_tiles
from dlpk.conformance.registry import MODEL_CHECKS


@MODEL_CHECKS.register("CF501", "nodata.no_class", "nodata pixels get no class and no detection")
def no_class(context: ModelContext) -> Outcome:
    run = base_run(context)
    test = raster(context)
    box = test.nodata_box
    where = (
        f"the nodata rectangle (rows {box.row}-{box.row + box.height - 1}, columns "
        f"{box.col}-{box.col + box.width - 1})"
    )
    if context.task == PIXELS:
        found = classified(run)
        inside = found.valid[box.row : box.row + box.height, box.col : box.col + box.width]
        count = int(inside.sum())
        if count:
            return failed(
                f"{count} pixel(s) of {where} were given a class",
                "nodata pixels must be written as nodata: a raster function returns "
                "output_mask 0 (or leaves inputMask on and masks them)",
                pixels=count,
            )
        return passed(
            f"every pixel of {where} is nodata in the output", pixels=box.height * box.width
        )
    if context.task == DETECTOR:
        layer = features(run)
        if not len(layer):
            return passed(f"no detection at all, none on {where}", detections=0)
        cx = (layer.boxes[:, 0] + layer.boxes[:, 2]) / 2
        cy = (layer.boxes[:, 1] + layer.boxes[:, 3]) / 2
        on = in_box(np.floor(cy), np.floor(cx), test)
        if on.any():
            return failed(
                f"{int(on.sum())} detection(s) centred on {where}",
                "detections centred on nodata must be dropped (the runner drops them for "
                "built-in models; a raster function must mask them itself)",
                boxes=layer.boxes[on][:10].round(1).tolist(),
            )
        return passed(
            f"none of {len(layer)} detection(s) is centred on {where}", detections=len(layer)
        )
    layer = features(run)
    label, role = layer.column("ClassLabel"), layer.column("role")
    if label is None or role is None:
        return failed("the output lost the features' fields", "keep every input field")
    given = [
        str(v) for v, r in zip(label, role, strict=True) if r == ON_NODATA and v not in (None, "")
    ]
    if given:
        return failed(
            f"a feature lying wholly on nodata was labelled {given}",
            "a chip without valid pixels gets no label",
            labels=given,
        )
    return passed("the feature lying wholly on nodata got no label")


@MODEL_CHECKS.register("CF502", "nodata.finite", "no NaN or infinity in any output")
def finite(context: ModelContext) -> Outcome:
    evidence: dict[str, Any] = {}
    problems: list[str] = []
    if context.adapter is not None and not context.runs_function:
        adapter = probed(context)
        grid = geometry(context)
        channels = _channels(context)
        zeros = np.zeros((1, channels, grid.tile_height, grid.tile_width), dtype=np.float32)
        for what, batch in (
            ("an all-zero tile (what nodata and the edge fill are to the model)", zeros),
            ("the test raster's tiles", _tiles(context)),
        ):
            bad = not_finite(adapter, batch)
            if bad:
                problems.append(f"{', '.join(bad)} on {what}")
        evidence["probed"] = ["zeros", "test tiles"]
    run = context.base()
    if run.ok and context.task != PIXELS:
        layer = features(run)
        # a null reads back as NaN: only features given a label must have finite numbers
        label = layer.column("ClassLabel")
        labelled = (
            np.array([v not in (None, "") for v in label], dtype=bool)
            if label is not None
            else np.ones(len(layer), dtype=bool)
        )
        for name, column in layer.columns.items():
            values = np.asarray(column)
            if values.dtype.kind != "f" or name == "ClassValue":
                continue
            if np.isinf(values).any() or np.isnan(values[labelled]).any():
                problems.append(f"non-finite {name} values in the output layer")
    if problems:
        return failed(
            "; ".join(problems),
            "guard the divisions, logs and normalisations that meet zeros (e.g. add an epsilon); "
            "the runner writes an argmax of NaN scores as a class",
            problems=problems,
            **evidence,
        )
    return passed("no NaN or infinity, on zeros or on the test raster", **evidence)


def _channels(context: ModelContext) -> int:
    assert context.emd is not None
    extract = context.emd.ExtractBands
    return len(extract) if isinstance(extract, list) else 3


def _tiles(context: ModelContext) -> Any:
    assert context.emd is not None
    if context.task == OBJECTS:
        grid = geometry(context)
        return (
            np.random.default_rng(1)
            .normal(0, 1, (2, _channels(context), grid.tile_height, grid.tile_width))
            .astype(np.float32)
        )
    normalised = context.configuration is None or context.configuration.normalised
    return read_tiles(
        raster(context).path,
        context.emd,
        normalised,
        geometry(context),
        max(1, min(context.batch_size, 4)),
    )


@MODEL_CHECKS.register(
    "CF503", "nodata.edges", "every valid pixel to the last row and column gets a result"
)
def edges(context: ModelContext) -> Outcome:
    run = base_run(context)
    test, grid = raster(context), geometry(context)
    if context.task == PIXELS:
        found = classified(run)
        band = max(1, grid.core_height // 4), max(1, grid.core_width // 4)
        edge = np.zeros(found.values.shape, dtype=bool)
        edge[-band[0] :, :] = True
        edge[:, -band[1] :] = True
        box = test.nodata_box
        expected = np.ones(found.values.shape, dtype=bool)
        expected[box.row : box.row + box.height, box.col : box.col + box.width] = False
        missing = edge & expected & ~found.valid
        if missing.any():
            rows, cols = np.nonzero(missing)
            return failed(
                f"{int(missing.sum())} valid pixel(s) along the last rows and columns (the "
                "partial edge tiles) have no class",
                "the model must take the edge tiles as any other (the runner fills past the "
                "raster's edge); a raster function must write whole edge blocks",
                pixels=[[int(r), int(c)] for r, c in zip(rows[:10], cols[:10], strict=True)],
            )
        return passed(
            f"every valid pixel of the partial edge tiles ({test.height}x{test.width} px, "
            f"cores of {grid.core_height}x{grid.core_width}) has a class"
        )
    layer = features(run)
    if context.task == OBJECTS:
        label, role = layer.column("ClassLabel"), layer.column("role")
        if label is None or role is None:
            return failed("the output lost the features' fields", "keep every input field")
        labels = [str(v) for v, r in zip(label, role, strict=True) if r == ACROSS_EDGE]
        if not labels or labels[0] in ("", "None"):
            return failed(
                "the feature across the raster's edge got no label",
                "a chip partly past the edge is filled and classified",
            )
        return passed(f"the feature across the raster's edge was labelled {labels[0]!r}")
    raise NotApplicable("not applicable: a detector's boxes past the edge are judged by CF202")
