"""CF3: tiling. The tiled result against one pass (or another tile plan) away from the border,
and the receptive field measured against the padding declared."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlpk.conformance.checks.common import (
    base_run,
    classified,
    colours,
    detection_classes,
    features,
    geometry,
    only,
    probed,
    raster,
)
from dlpk.conformance.compare import differences, interior, seam_distance, seam_picture
from dlpk.conformance.context import DETECTOR, PIXELS, ModelContext, TaskRun
from dlpk.conformance.outcome import NotApplicable, Outcome, failed, passed, warned
from dlpk.conformance.outputs import unmatched
from dlpk.conformance.probes import read_tiles, receptive_radius
from dlpk.conformance.registry import MODEL_CHECKS
from dlpk.conformance.synthetic import TestRaster, shifted

#: Below this fraction of differing pixels, and with a receptive field inside the padding, a
#: difference is floating-point noise flipping near-ties, not tiling.
NOISE = 1e-4
#: A one-pass tile larger than this a side is not tried (the moved plan is the reference).
ONE_PASS_LIMIT = 4096


@MODEL_CHECKS.register(
    "CF301", "tiles.invariance", "the tiled result equals one pass away from the border"
)
def invariance(context: ModelContext) -> Outcome:
    only(context, PIXELS, DETECTOR)
    tiled = base_run(context)
    reference, how, offset = _reference(context)
    if context.task == DETECTOR:
        return _same_detections(context, tiled, reference, how, offset)
    return _same_classes(context, tiled, reference, how, offset)


def _reference(context: ModelContext) -> tuple[TaskRun, str, tuple[int, int]]:
    """One pass over the whole raster (a tile covering it, with the same padding) when the
    model takes that size; else the raster moved by part of a core under the same plan, so
    every seam falls elsewhere. Returns the run, what it is, and its (rows, cols) offset."""
    test, grid = raster(context), geometry(context)
    # one tile over it all, a multiple of 32 (what encoders that halve the tile need)
    side = -(-(max(test.height, test.width) + 2 * grid.padding) // 32) * 32
    if not context.runs_function and side <= ONE_PASS_LIMIT:
        arguments = {"tile_size": str(side), "padding": str(grid.padding), "batch_size": "1"}
        run = context.run("one-pass", arguments)
        if run.ok:
            return run, f"one pass ({side} px tile)", (0, 0)
    rows, cols = max(1, grid.core_height // 2 + 1), max(1, grid.core_width // 3 + 1)
    moved = _shifted(context, rows, cols)
    run = context.run("shifted", raster=moved)
    if not run.ok:
        raise NotApplicable(f"not run: the task failed on the moved raster ({run.failure()})")
    return run, f"the raster moved {rows} rows and {cols} columns under the same plan", (rows, cols)


def _shifted(context: ModelContext, rows: int, cols: int) -> TestRaster:
    return shifted(raster(context), context.folder / f"moved-{rows}-{cols}.tif", rows, cols)


def _same_classes(
    context: ModelContext, tiled: TaskRun, reference: TaskRun, how: str, offset: tuple[int, int]
) -> Outcome:
    grid, test = geometry(context), raster(context)
    ours, theirs = classified(tiled), classified(reference)
    rows, cols = offset
    # the reference's pixel (r, c) is the tiled raster's (r + rows, c + cols)
    mine = ours.values[rows:, cols:]
    valid = ours.valid[rows:, cols:] & theirs.valid[: mine.shape[0], : mine.shape[1]]
    other = theirs.values[: mine.shape[0], : mine.shape[1]]
    area = valid & interior(mine.shape, grid.padding)
    found = differences(mine, other, area)
    seam_rows, seam_cols = grid.seams(test.height, test.width)
    if offset != (0, 0):  # the moved raster's own seams, in the tiled raster's pixels
        theirs_rows, theirs_cols = grid.seams(*mine.shape)
        seam_rows = sorted({*seam_rows, *(s + rows for s in theirs_rows)})
        seam_cols = sorted({*seam_cols, *(s + cols for s in theirs_cols)})
    seams = (seam_rows, seam_cols)
    evidence: dict[str, Any] = {
        "reference": how,
        "compared_pixels": found.compared,
        "differing_pixels": found.count,
        "padding": grid.padding,
        "tile": [grid.tile_height, grid.tile_width],
    }
    if not found.count:
        return passed(
            f"the tiled result equals {how} on all {found.compared} pixels compared", **evidence
        )
    distance = seam_distance(found.rows + rows, found.cols + cols, seams)
    reach = int(distance.max())
    evidence |= {
        "fraction": round(found.fraction(), 6),
        "max_distance_from_seam": reach,
        "pixels": found.listed(),
        "bounds": found.bounds(),
        "needed_padding_at_least": grid.padding + reach + 1,
    }
    outcome = _judge(context, found.fraction(), evidence, how, reach)
    picture = context.artifact("CF301-seam.png")
    if picture is not None:
        from dlpk.conformance.outputs import Classified

        shown = Classified(mine, ours.nodata, ours.dtype, 1, ours.transform, ours.crs)
        other_shown = Classified(
            other, theirs.nodata, theirs.dtype, 1, theirs.transform, theirs.crs
        )
        seam_picture(picture, shown, other_shown, found, colours(context))
        outcome.artifacts.append(picture.name)
    return outcome


def _judge(
    context: ModelContext, fraction: float, evidence: dict[str, Any], how: str, reach: int
) -> Outcome:
    """Why the tiles disagree, from the receptive field measured on the model itself."""
    grid = geometry(context)
    count = evidence["differing_pixels"]
    differ = f"{count} pixel(s) differ from {how}, up to {reach} px from a tile seam"
    radius = _radius(context)
    if radius is not None:
        evidence["receptive_radius"] = radius.radius
    if radius is not None and radius.unstable:
        return failed(
            f"{differ}: the model gives other outputs for the same tile from one forward pass "
            "to the next (CF401)",
            "make the model deterministic first (CF401)",
            **evidence,
        )
    if radius is not None and radius.edge:
        return failed(
            f"{differ}: one pixel's change reaches the tile's edge (CF302)",
            "the output depends on the whole tile (a global operation such as pooling, "
            "attention or normalisation over the tile): no padding makes tiles agree; make the "
            "model fully convolutional, or accept seams",
            **evidence,
        )
    if radius is not None and radius.radius <= grid.padding:
        if fraction <= NOISE:
            return warned(
                f"{differ}, although the receptive field ({radius.radius} px) fits the "
                f"padding ({grid.padding}): floating-point differences between tile sizes "
                "flipping near-ties",
                None,
                **evidence,
            )
        return failed(
            f"{differ}, although the receptive field measured on one tile ({radius.radius} "
            f"px) fits the padding ({grid.padding}): the output depends on more than the "
            "pixels near it (the batch it runs in, CF402, or the tile's size)",
            "the model must treat each tile alone and each pixel by its neighbourhood (no "
            "statistics over the batch or the tile)",
            **evidence,
        )
    target = max(evidence["needed_padding_at_least"], radius.radius if radius else 0)
    return failed(
        f"{differ}: the padding ({grid.padding}) is narrower than the model's receptive "
        "field" + (f" ({radius.radius} px)" if radius is not None else ""),
        _padding_fix(context, target),
        **evidence,
    )


def _padding_fix(context: ModelContext, needed: int) -> str:
    grid = geometry(context)
    limit = (min(grid.tile_height, grid.tile_width) - 1) // 2
    if needed > limit:
        return (
            f"the model needs padding {needed} px, more than a {grid.tile_height}x"
            f"{grid.tile_width} tile allows (below half the tile, {limit}): raise ImageHeight "
            f"and ImageWidth (SupportsVariableTileSize) or shrink the receptive field"
        )
    if context.runs_function:
        return f"return padding {needed} (at least) from the raster function's getConfiguration"
    return f'set "ModelPadding": {needed} in the .emd (or pass --arg padding={needed})'


def _same_detections(
    context: ModelContext, tiled: TaskRun, reference: TaskRun, how: str, offset: tuple[int, int]
) -> Outcome:
    grid, test = geometry(context), raster(context)
    ours, theirs = features(tiled), features(reference)
    rows, cols = offset
    moved = theirs.boxes + np.array([cols, rows, cols, rows], dtype=np.float64)
    margin = grid.padding + 1

    def inner(boxes: Any) -> Any:
        if not len(boxes):
            return np.zeros(0, dtype=bool)
        return np.asarray(
            (boxes[:, 0] >= cols + margin)
            & (boxes[:, 1] >= rows + margin)
            & (boxes[:, 2] <= test.width - margin)
            & (boxes[:, 3] <= test.height - margin),
            dtype=bool,
        )

    keep_ours, keep_theirs = inner(ours.boxes), inner(moved)
    our_classes = detection_classes(ours)[keep_ours]
    their_classes = detection_classes(theirs)[keep_theirs]
    lonely, missing = unmatched(
        ours.boxes[keep_ours], our_classes, moved[keep_theirs], their_classes
    )
    evidence: dict[str, Any] = {
        "reference": how,
        "tiled": int(keep_ours.sum()),
        "reference_detections": int(keep_theirs.sum()),
        "only_tiled": [ours.boxes[keep_ours][i].round(1).tolist() for i in lonely[:10]],
        "only_reference": [moved[keep_theirs][i].round(1).tolist() for i in missing[:10]],
    }
    if not lonely and not missing:
        return passed(
            f"the tiled detections match {how} ({evidence['tiled']} away from the border)",
            **evidence,
        )
    return failed(
        f"{len(lonely)} detection(s) only in the tiled result and {len(missing)} only in {how}",
        "raise the padding to at least half the largest object (and the receptive field)",
        **evidence,
    )


def _radius(context: ModelContext) -> Any:
    """The measured receptive radius (cached), or None without a probe."""
    if "radius" in context.cache:
        return context.cache["radius"]
    found = None
    if context.task == PIXELS and not context.runs_function and context.adapter is not None:
        assert context.emd is not None
        tiles = read_tiles(
            raster(context).path, context.emd, _normalised(context), geometry(context), 1
        )
        found = receptive_radius(context.adapter, tiles[0])
    context.cache["radius"] = found
    return found


def _normalised(context: ModelContext) -> bool:
    return context.configuration is None or context.configuration.normalised


@MODEL_CHECKS.register(
    "CF302", "tiles.receptive_field", "the measured receptive field fits the declared padding"
)
def receptive_field(context: ModelContext) -> Outcome:
    only(context, PIXELS)
    probed(context)
    grid = geometry(context)
    radius = _radius(context)
    assert radius is not None
    evidence = {
        "receptive_radius": radius.radius,
        "reaches_tile_edge": radius.edge,
        "padding": grid.padding,
        "tile": [grid.tile_height, grid.tile_width],
    }
    if radius.unstable:
        raise NotApplicable(
            "not run: the model gives other outputs for the same tile from one forward pass "
            "to the next (CF401): there is no receptive field to measure"
        )
    if not radius.moved:
        return passed(
            "changing one pixel changed no output: nothing reaches past a pixel", **evidence
        )
    if radius.edge:
        return failed(
            f"one pixel's change reaches the tile's edge ({radius.radius} px and more): the "
            "output depends on the whole tile, so tiles never agree at their seams",
            "make the model fully convolutional with a bounded receptive field (no global "
            "pooling, attention or normalisation over the tile)",
            **evidence,
        )
    if radius.radius > grid.padding:
        return failed(
            f"the receptive field reaches {radius.radius} px; the padding is {grid.padding}",
            _padding_fix(context, radius.radius),
            **evidence,
        )
    spare = grid.padding - radius.radius
    note = ""
    if spare > max(4, radius.radius):
        note = (
            f"; {spare} px of padding are more than needed (padding {radius.radius} would "
            "give the same result with less work)"
        )
    return passed(
        f"the receptive field reaches {radius.radius} px, within the padding "
        f"({grid.padding}){note}",
        **evidence,
    )
