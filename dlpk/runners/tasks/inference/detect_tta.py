"""Test-time augmentation for detectors: every transform's detections, mapped back and merged.

Each tile runs once per transform (`tta.transforms_for`) and scale (`tta_scales`, the tile
resized bilinearly); the boxes found in a transformed tile are mapped back to the tile's own
frame exactly (`Transform.invert_boxes`, then divided by the scale), all of them are pooled
and class-aware NMS (`nms_overlap`, `nms_metric`) keeps the best of each cluster. The result
goes on as the model's own output would: the core rule and the NMS across tiles follow.
arcgis.learn fuses TTA boxes by weighted boxes fusion, which averages the coordinates of a
cluster; NMS keeps one of its boxes whole, so a box is always one the model found.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.tasks.inference.arguments import Arguments
from dlpk.runners.tasks.inference.detections import candidates, split_outputs
from dlpk.runners.tasks.inference.engine import Forward
from dlpk.runners.tasks.inference.nms import class_aware_nms
from dlpk.runners.tasks.inference.object_chips import resize
from dlpk.runners.tasks.inference.tta import Transform

Pool = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def merge_tile(pool: list[Pool], classes: int, args: Arguments) -> Pool:
    """One tile's candidates from every transform, filtered and merged by class-aware NMS."""
    boxes = np.concatenate([p[0] for p in pool])
    scores = np.concatenate([p[1] for p in pool])
    labels = np.concatenate([p[2] for p in pool])
    keep = candidates(boxes, scores, labels, classes, args.threshold)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    chosen = class_aware_nms(
        boxes, scores, labels.astype(np.int64), args.nms_overlap, args.nms_metric
    )
    return boxes[chosen], scores[chosen], labels[chosen]


def _padded(merged: list[Pool]) -> list[NDArray[np.generic]]:
    """[N, M, 4], [N, M], [N, M] with M the most any tile kept; label 0 pads the rest."""
    count = max([len(m[1]) for m in merged] + [1])
    boxes = np.zeros((len(merged), count, 4))
    scores = np.zeros((len(merged), count))
    labels = np.zeros((len(merged), count))
    for number, (kept_boxes, kept_scores, kept_labels) in enumerate(merged):
        found = len(kept_scores)
        boxes[number, :found] = kept_boxes
        scores[number, :found] = kept_scores
        labels[number, :found] = kept_labels
    return [boxes, scores, labels]


def scaled(pixels: NDArray[np.float32], scale: float) -> NDArray[np.float32]:
    """A [N, C, H, W] batch resized bilinearly by `scale` (sides rounded, at least 1 pixel)."""
    count, bands, height, width = pixels.shape
    size = max(1, round(height * scale)), max(1, round(width * scale))
    if size == (height, width):
        return pixels
    flat = resize(pixels.reshape(count * bands, height, width), *size)
    return flat.reshape(count, bands, *size)


def augmented_detector(
    forward: Forward, transforms: list[Transform], classes: int, args: Arguments
) -> Forward:
    """A forward pass returning the ObjectDetector outputs merged over `transforms` at every
    scale of `args.tta_scales`: a tile resized by a scale is transformed, detected, and its
    boxes mapped back through the transform, then divided by the scale of each axis."""

    def run(pixels: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        count, height, width = pixels.shape[0], pixels.shape[-2], pixels.shape[-1]
        pools: list[list[Pool]] = [[] for _ in range(count)]
        for scale in args.tta_scales:
            resized = scaled(pixels, scale)
            rows, cols = resized.shape[-2], resized.shape[-1]
            back_to_tile = np.array([width / cols, height / rows] * 2)
            for transform in transforms:
                view = np.asarray(transform.apply(resized), dtype=np.float32)
                outputs = _forward_at_scale(forward, view, scale)
                boxes, scores, labels = split_outputs(outputs, count)
                for number in range(count):
                    back = transform.invert_boxes(boxes[number], rows, cols) * back_to_tile
                    pools[number].append((back, scores[number], labels[number]))
        return _padded([merge_tile(pool, classes, args) for pool in pools])

    return run


def _forward_at_scale(
    forward: Forward, view: NDArray[np.float32], scale: float
) -> list[NDArray[np.generic]]:
    """A model exported for one input size cannot take a rescaled tile: say so, and how."""
    try:
        return forward(view)
    except ModelError as exc:
        if scale == 1.0:
            raise
        raise ModelError(
            f"the model failed on tiles rescaled by {scale:g} "
            f"({view.shape[-2]}x{view.shape[-1]} px): {exc.message}",
            hint="drop tta_scales: this model takes only its own tile size",
        ) from exc
