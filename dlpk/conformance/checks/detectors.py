"""CF6: detectors. An object the model finds, moved so its centre lies where four tile cores
meet, must come back once, with its box.

The object is one the model itself found on the test raster (the largest, away from the
border and the nodata rectangle), so the check needs no knowledge of what the model detects;
the raster is moved under the same tile plan, the runner's own reading of tiles."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.conformance.checks.common import (
    base_run,
    detection_classes,
    features,
    geometry,
    only,
    raster,
)
from dlpk.conformance.context import DETECTOR, ModelContext
from dlpk.conformance.outcome import NotApplicable, Outcome, failed, passed
from dlpk.conformance.outputs import iou
from dlpk.conformance.registry import MODEL_CHECKS
from dlpk.conformance.synthetic import Geometry, TestRaster, shifted

#: A detection overlapping the moved object this much is taken for it; this much is its box.
SAME_OBJECT, SAME_BOX = 0.2, 0.7


def _nearest(value: float, seams: list[int]) -> int:
    return min(seams, key=lambda s: abs(s - value))


def _placement(
    box: NDArray[np.float64], test: TestRaster, grid: Geometry
) -> tuple[int, int, int, int] | None:
    """(rows, cols, seam row, seam col): the move that puts the box's centre on the seam
    crossing nearest to it, or None when the moved box would leave the raster."""
    seam_rows, seam_cols = grid.seams(test.height, test.width)
    if not seam_rows or not seam_cols:
        return None
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    seam_row, seam_col = _nearest(cy, seam_rows), _nearest(cx, seam_cols)
    rows, cols = round(cy) - seam_row, round(cx) - seam_col
    height, width = test.height - rows, test.width - cols
    x1, y1, x2, y2 = box - np.array([cols, rows, cols, rows])
    if x1 < 1 or y1 < 1 or x2 > width - 1 or y2 > height - 1:
        return None
    return rows, cols, seam_row, seam_col


def _candidates(context: ModelContext, boxes: NDArray[np.float64]) -> list[int]:
    """Detections whole inside the raster and clear of the nodata rectangle, largest first."""
    test = raster(context)
    box = test.nodata_box
    order = []
    for number, (x1, y1, x2, y2) in enumerate(boxes):
        if not np.isfinite([x1, y1, x2, y2]).all() or x2 - x1 < 1 or y2 - y1 < 1:
            continue
        if x1 < 1 or y1 < 1 or x2 > test.width - 1 or y2 > test.height - 1:
            continue
        clear = (
            x2 <= box.col
            or x1 >= box.col + box.width
            or y2 <= box.row
            or y1 >= box.row + box.height
        )
        if clear:
            order.append(number)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return sorted(order, key=lambda n: -areas[n])


@MODEL_CHECKS.register(
    "CF601", "detectors.seam", "an object across a tile seam comes back once, with its box"
)
def seam(context: ModelContext) -> Outcome:
    only(context, DETECTOR)
    run = base_run(context)
    layer = features(run)
    test, grid = raster(context), geometry(context)
    if not len(layer):
        raise NotApplicable(
            "not run: the model found nothing on the test raster to move across a seam (pass "
            "--raster SAMPLE holding objects it finds)"
        )
    classes = detection_classes(layer)
    placement = None
    chosen = -1
    for number in _candidates(context, layer.boxes):
        placement = _placement(layer.boxes[number], test, grid)
        if placement is not None:
            chosen = number
            break
    if placement is None:
        raise NotApplicable(
            "not run: no detection of the test raster can be moved onto a seam crossing "
            "while staying inside the raster"
        )
    rows, cols, seam_row, seam_col = placement
    moved = shifted(test, context.folder / f"seam-{rows}-{cols}.tif", rows, cols)
    again = context.run("seam", raster=moved)
    if not again.ok:
        return failed(
            f"the task failed on the moved raster: {again.failure()}",
            "the model must run on any raster of the same kind",
        )
    found = features(again)
    expected = layer.boxes[chosen] - np.array([cols, rows, cols, rows], dtype=np.float64)
    overlap = iou(expected, found.boxes)
    same_class = detection_classes(found) == classes[chosen]
    hits = np.flatnonzero((overlap >= SAME_OBJECT) & same_class)
    evidence: dict[str, Any] = {
        "object": layer.boxes[chosen].round(2).tolist(),
        "class": _plain(classes[chosen]),
        "moved_by": [rows, cols],
        "seam": {"row": seam_row, "col": seam_col},
        "expected_box": expected.round(2).tolist(),
        "found_boxes": found.boxes[hits].round(2).tolist(),
        "iou": [round(float(overlap[h]), 3) for h in hits],
    }
    size = float(max(expected[2] - expected[0], expected[3] - expected[1]))
    where = f"its centre on the seam crossing at row {seam_row}, column {seam_col}"
    if len(hits) == 1 and overlap[hits[0]] >= SAME_BOX:
        return passed(
            f"the object ({size:.0f} px) with {where} came back once, IoU {overlap[hits[0]]:.2f}",
            **evidence,
        )
    if context.runs_function:
        fix = (
            "in the raster function, keep only the features whose centre lies in the block's "
            "un-padded part and ask for padding of at least half the largest object "
            f"({size / 2:.0f} px) in getConfiguration"
        )
    else:
        fix = (
            f'raise the padding to at least half the largest object ("ModelPadding": '
            f"{int(np.ceil(size / 2))} or more), so the tile holding its centre sees it whole"
        )
    if not len(hits):
        return failed(f"the object with {where} was lost", fix, **evidence)
    if len(hits) > 1:
        return failed(f"the object with {where} came back {len(hits)} times", fix, **evidence)
    return failed(
        f"the object with {where} came back cut: IoU {overlap[hits[0]]:.2f} with its box",
        fix,
        **evidence,
    )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
