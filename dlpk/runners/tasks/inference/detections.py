"""A detector's raw outputs: the ObjectDetector contract checked, and which rows are objects.

Shared by the tiling loop and test-time augmentation, which both read what a model returned
for a batch of tiles before anything is kept.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError


def split_outputs(
    outputs: list[NDArray[np.generic]], count: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Boxes [N, M, 4], scores [N, M] and labels [N, M] for a batch of `count` tiles."""
    if len(outputs) != 3:
        raise ModelError(f"an ObjectDetector returns boxes, scores, labels; got {len(outputs)}")
    boxes, scores, labels = (np.asarray(o, dtype=np.float64) for o in outputs)
    m = boxes.shape[1] if boxes.ndim == 3 else -1
    if boxes.shape != (count, m, 4) or scores.shape != (count, m) or labels.shape != (count, m):
        shapes = [tuple(o.shape) for o in outputs]
        raise ModelError(
            f"detector outputs {shapes} for {count} tiles; expected [N, M, 4], [N, M], [N, M]"
        )
    return boxes, scores, labels


def candidates(
    boxes: NDArray[np.float64],
    scores: NDArray[np.float64],
    labels: NDArray[np.float64],
    classes: int,
    threshold: float,
) -> NDArray[np.bool_]:
    """Rows that are objects: a label naming one of `classes`, a score reaching `threshold`
    and a finite box (padding rows and NaNs would otherwise reach NMS)."""
    keep = (labels >= 1) & (labels <= classes) & (scores >= threshold)
    return np.asarray(keep & np.all(np.isfinite(boxes), axis=1), dtype=bool)
