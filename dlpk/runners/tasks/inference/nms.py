"""Class-aware non-maximum suppression in numpy (no torchvision: it does not run beside CPU torch).

Boxes are [M, 4] x1, y1, x2, y2. `overlap` is the largest IoU (or, with `metric="ios"`,
intersection over the smaller box) a kept box may have with a higher-scoring box of its class.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

METRICS = ("iou", "ios")


def _areas(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    widths = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    return np.asarray(widths * np.clip(boxes[:, 3] - boxes[:, 1], 0, None), dtype=np.float64)


def overlaps(
    box: NDArray[np.float64], others: NDArray[np.float64], metric: str = "iou"
) -> NDArray[np.float64]:
    """Overlap of one box [4] with each of `others` [M, 4]."""
    width = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = width * height
    area, rest = _areas(box[np.newaxis])[0], _areas(others)
    denominator = np.minimum(area, rest) if metric == "ios" else area + rest - inter
    ratio = np.divide(inter, denominator, out=np.zeros_like(inter), where=denominator > 0)
    return np.asarray(ratio, dtype=np.float64)


def nms(
    boxes: NDArray[np.float64], scores: NDArray[np.float64], overlap: float, metric: str = "iou"
) -> NDArray[np.int64]:
    """Indexes of the boxes kept, highest score first (ties: earlier box first)."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    while order.size:
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        order = rest[overlaps(boxes[best], boxes[rest], metric) <= overlap]
    return np.asarray(kept, dtype=np.int64)


def class_aware_nms(
    boxes: NDArray[np.float64],
    scores: NDArray[np.float64],
    labels: NDArray[np.int64],
    overlap: float,
    metric: str = "iou",
) -> NDArray[np.int64]:
    """NMS within each label; indexes of the boxes kept, in descending score order overall."""
    kept = [
        np.flatnonzero(labels == label)[
            nms(boxes[labels == label], scores[labels == label], overlap, metric)
        ]
        for label in np.unique(labels)
    ]
    if not kept:
        return np.zeros(0, dtype=np.int64)
    chosen = np.concatenate(kept)
    return np.asarray(chosen[np.argsort(-scores[chosen], kind="stable")], dtype=np.int64)
