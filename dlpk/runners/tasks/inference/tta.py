"""Test-time augmentation: run transformed tiles, undo the transform, merge what came back.

Which transforms are safe depends on ImageSpaceUsed (docs/esri-formats.md#bands-and-normalisation):
a model trained on map space imagery saw north in any direction, so all 8 dihedral transforms apply;
one trained on pixel space (oblique, sensor geometry) only sees left/right mirrored scenes. A
transform moves pixels (pixel classifiers' score maps) and boxes (detectors) alike; pixel scores are
merged here, detections in `detect_tta`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.tasks.inference.engine import Forward


@dataclass(frozen=True)
class Transform:
    """Rotate by `turns` quarter turns after an optional left/right flip (on [N, C, H, W])."""

    turns: int = 0
    flip: bool = False
    flip_rows: bool = False

    def apply(self, array: NDArray[np.generic]) -> NDArray[np.generic]:
        out = array[..., ::-1] if self.flip else array
        out = out[..., ::-1, :] if self.flip_rows else out
        return np.ascontiguousarray(np.rot90(out, self.turns, axes=(-2, -1)))

    def invert(self, array: NDArray[np.generic]) -> NDArray[np.generic]:
        out = np.rot90(array, -self.turns, axes=(-2, -1))
        out = out[..., ::-1, :] if self.flip_rows else out
        return np.ascontiguousarray(out[..., ::-1] if self.flip else out)

    def apply_boxes(
        self, boxes: NDArray[np.float64], height: int, width: int
    ) -> NDArray[np.float64]:
        """Boxes [M, 4] (x1, y1, x2, y2, pixel edges) of a `height x width` tile, as they lie
        in the tile after `apply`. One quarter turn (np.rot90) takes the point (x, y) of a
        frame `w` wide to (y, w - x) and swaps the frame's height and width."""
        x = boxes[:, [0, 2]].astype(np.float64)
        y = boxes[:, [1, 3]].astype(np.float64)
        if self.flip:
            x = width - x
        if self.flip_rows:
            y = height - y
        for _ in range(self.turns % 4):
            x, y = y, width - x
            height, width = width, height
        return _corners(x, y)

    def invert_boxes(
        self, boxes: NDArray[np.float64], height: int, width: int
    ) -> NDArray[np.float64]:
        """Boxes found in the transformed tile, mapped back to the original `height x width`
        tile: each step of `apply_boxes` undone in reverse order."""
        x = boxes[:, [0, 2]].astype(np.float64)
        y = boxes[:, [1, 3]].astype(np.float64)
        turns = self.turns % 4
        rows, cols = (width, height) if turns % 2 else (height, width)  # the transformed tile
        for _ in range(turns):  # a quarter turn back: (x, y) -> (rows - y, x)
            x, y = rows - y, x
            rows, cols = cols, rows
        if self.flip_rows:
            y = height - y
        if self.flip:
            x = width - x
        return _corners(x, y)


def _corners(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Boxes [M, 4] from two corners' coordinates [M, 2] in any order."""
    return np.stack([x.min(axis=1), y.min(axis=1), x.max(axis=1), y.max(axis=1)], axis=1)


def transforms_for(image_space: str | None, square: bool) -> list[Transform]:
    """The transforms valid for a model's image space and the tile shape (identity first)."""
    if image_space not in (None, "MAP_SPACE"):
        return [Transform(), Transform(flip=True)]
    if not square:  # quarter turns would swap the tile's height and width
        return [Transform(), Transform(flip=True), Transform(flip_rows=True)]
    return [Transform(turns, flip) for flip in (False, True) for turns in range(4)]


_MERGE: dict[str, Callable[..., NDArray[np.generic]]] = {
    "mean": np.mean,
    "max": np.max,
    "min": np.min,
}


def augmented(forward: Forward, transforms: list[Transform], policy: str) -> Forward:
    """A forward pass returning one [N, K, H, W] output: the merged, untransformed scores."""
    merge = _MERGE[policy]

    def run(pixels: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        scores: list[NDArray[np.generic]] = []
        for transform in transforms:
            outputs = forward(np.asarray(transform.apply(pixels), dtype=np.float32))
            if len(outputs) != 1 or outputs[0].ndim != 4:
                shapes = [tuple(o.shape) for o in outputs]
                raise ModelError(f"a PixelClassifier returns one [N, K, H, W] output; got {shapes}")
            restored = transform.invert(np.asarray(outputs[0]))
            if scores and restored.shape != scores[0].shape:
                raise ModelError(
                    f"the model returned {restored.shape} for a transformed batch and "
                    f"{scores[0].shape} for the original; test_time_augmentation needs the "
                    "output to keep the input's size"
                )
            scores.append(restored)
        return [np.asarray(merge(np.stack(scores), axis=0), dtype=scores[0].dtype)]

    return run
