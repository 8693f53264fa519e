"""Test-time augmentation for detectors: every transform's detections, mapped back and merged.

Each tile runs once per transform (`tta.transforms_for`); the boxes found in a transformed tile
are mapped back to the tile's own frame exactly (`Transform.invert_boxes`), all of them are
pooled and class-aware NMS (`nms_overlap`, `nms_metric`) keeps the best of each cluster. The
result goes on as the model's own output would: the core rule and the NMS across tiles follow.
arcgis.learn fuses TTA boxes by weighted boxes fusion, which averages the coordinates of a
cluster; NMS keeps one of its boxes whole, so a box is always one the model found.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dlpk.runners.inference.arguments import Arguments
from dlpk.runners.inference.detections import candidates, split_outputs
from dlpk.runners.inference.engine import Forward
from dlpk.runners.inference.nms import class_aware_nms
from dlpk.runners.inference.tta import Transform

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


def augmented_detector(
    forward: Forward, transforms: list[Transform], classes: int, args: Arguments
) -> Forward:
    """A forward pass returning the ObjectDetector outputs merged over `transforms`."""

    def run(pixels: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        count, height, width = pixels.shape[0], pixels.shape[-2], pixels.shape[-1]
        pools: list[list[Pool]] = [[] for _ in range(count)]
        for transform in transforms:
            outputs = forward(np.asarray(transform.apply(pixels), dtype=np.float32))
            boxes, scores, labels = split_outputs(outputs, count)
            for number in range(count):
                back = transform.invert_boxes(boxes[number], height, width)
                pools[number].append((back, scores[number], labels[number]))
        return _padded([merge_tile(pool, classes, args) for pool in pools])

    return run
