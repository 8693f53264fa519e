"""The non-maximum suppression ArcGIS's Detect Objects tool runs after a raster function.

The function's detections of overlapping blocks are merged by the tool, not by the function:
arcgis.learn's ArcGISObjectDetector lowers the score of a box centred in a sub-tile's padding
(to about its threshold x 100) and relies on this pass to drop it beside the better-placed
copy. The tool's parameters are taken among the --arg values, under ArcGIS's names:
`run_nms` (default true; NMS / NO_NMS as ArcGIS writes them also work), `max_overlap_ratio`
(default 0: any overlap), `confidence_score_field` (default Confidence) and
`class_value_field` (default Class; an empty value compares boxes of every class together).
Overlap is the polygons' intersection over their union, as ArcGIS measures it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from dlpk.errors import UsageError

NAMES = ("run_nms", "max_overlap_ratio", "confidence_score_field", "class_value_field")
_TRUE = ("true", "1", "yes", "y", "t", "nms")
_FALSE = ("false", "0", "no", "n", "f", "no_nms")


@dataclass(frozen=True)
class ToolNms:
    run: bool = True
    max_overlap_ratio: float = 0.0
    score_field: str = "Confidence"
    class_field: str = "Class"

    def resolved(self) -> dict[str, str]:
        return {
            "run_nms": str(self.run).lower(),
            "max_overlap_ratio": f"{self.max_overlap_ratio:g}",
            "confidence_score_field": self.score_field,
            "class_value_field": self.class_field,
        }


def split_arguments(given: dict[str, str]) -> tuple[ToolNms, dict[str, str]]:
    """The tool's NMS settings, and the arguments left for the function."""
    tool = {k: v for k, v in given.items() if k in NAMES}
    rest = {k: v for k, v in given.items() if k not in NAMES}
    run = tool.get("run_nms", "true").strip().lower()
    if run not in _TRUE + _FALSE:
        raise UsageError(f"run_nms={tool['run_nms']!r} is not true or false", "e.g. run_nms=false")
    try:
        ratio = float(tool.get("max_overlap_ratio", "0"))
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise UsageError(
            f"max_overlap_ratio={tool['max_overlap_ratio']!r} is not a number from 0 to 1",
            "e.g. max_overlap_ratio=0.3",
        )
    settings = ToolNms(
        run=run in _TRUE,
        max_overlap_ratio=ratio,
        score_field=tool.get("confidence_score_field", "Confidence"),
        class_field=tool.get("class_value_field", "Class"),
    )
    return settings, rest


def _score(attributes: dict[str, Any], field: str) -> float:
    try:
        return float(attributes.get(field))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("-inf")  # no score: any scored box overlapping it wins


def suppress(
    polygons: list[shapely.Geometry], attributes: list[dict[str, Any]], settings: ToolNms
) -> list[int]:
    """Indexes of the detections kept, in their original order: within each class, a box is
    dropped when it overlaps a higher-scoring kept box by more than max_overlap_ratio."""
    if not settings.run or not polygons:
        return list(range(len(polygons)))
    scores = np.array([_score(a, settings.score_field) for a in attributes])
    classes = [
        str(a.get(settings.class_field, "")) if settings.class_field else "" for a in attributes
    ]
    tree = shapely.STRtree(polygons)
    order = np.argsort(-scores, kind="stable")
    dropped = np.zeros(len(polygons), dtype=bool)
    for index in order.tolist():
        if dropped[index]:
            continue
        for other in tree.query(polygons[index]).tolist():
            if other == index or dropped[other] or classes[other] != classes[index]:
                continue
            if scores[other] > scores[index] or (scores[other] == scores[index] and other < index):
                continue  # the better box: it is (or was) judged first
            union = shapely.area(shapely.union(polygons[index], polygons[other]))
            inter = shapely.area(shapely.intersection(polygons[index], polygons[other]))
            if union > 0 and inter / union > settings.max_overlap_ratio:
                dropped[other] = True
    return [i for i in range(len(polygons)) if not dropped[i]]
