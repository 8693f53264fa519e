"""From model channels to class Values and names (docs/esri-formats.md#classes).

Channel i is class `Classes[i]`, or, when the model has one channel more than classes, channel
0 is background and channel i is `Classes[i-1]`. ArcGIS's arcgis.learn classifier lets that
background channel win only when a class has Value 0 or there is a single class; its raster
functions keep doing so (they run their own code). For dlpk's own configurations a background
channel means what it says: it may win, and its pixels are written as 0 with a `Background`
row in the attribute table. `--arg predict_background=False` gives every pixel a class instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.io.classified import ClassRow
from dlpk.spec.emd import ClassEntry


def class_color(entry: ClassEntry) -> tuple[int, int, int]:
    """The entry's colour, or a stable pseudo-random one for "no colour" ([-1, -1, -1])."""
    if entry.Color is not None and min(entry.Color) >= 0:
        red, green, blue = entry.Color
        return int(red), int(green), int(blue)
    rng = random.Random(entry.Value)
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def class_rows(classes: list[ClassEntry]) -> list[ClassRow]:
    return [ClassRow(c.Value, c.Name, class_color(c)) for c in classes]


#: The row of Value 0 when a background channel writes it and no class has that Value.
BACKGROUND = ClassRow(0, "Background", (0, 0, 0))


def pixels_key(value: int) -> str:
    """The result count of the pixels classified as `value`."""
    return f"class_{value}_pixels"


def detections_key(value: int) -> str:
    """The result count of the detections of class `value`."""
    return f"class_{value}_detections"


def value_counts(values: NDArray[np.integer[Any]]) -> dict[int, int]:
    """How many times each Value occurs: a bincount for the usual small non-negative Values
    (linear time, a tile's worth at a time), a sort otherwise."""
    if values.size == 0:
        return {}
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high < 1 << 16:
        found = np.bincount(values.ravel(), minlength=high + 1)
        return {int(v): int(found[v]) for v in np.flatnonzero(found)}
    unique, numbers = np.unique(values, return_counts=True)
    return {int(v): int(n) for v, n in zip(unique, numbers, strict=True)}


@dataclass(frozen=True)
class ChannelMap:
    """Channel i of the model's output is class Value `values[i]`; channels not `allowed` never
    win the argmax."""

    values: NDArray[np.int64]
    allowed: NDArray[np.bool_]
    background: bool = False  # channel 0 is a background channel before the classes

    @property
    def writes_background(self) -> bool:
        """Whether background pixels may be written (as 0)."""
        return self.background and bool(self.allowed[0])

    def written_values(self) -> list[int]:
        """The class Values a pixel may get, each once, in ascending order."""
        return sorted({int(v) for v in self.values[self.allowed]})

    def note(self, classes: int) -> str | None:
        """What the task summary says of a background channel: what it became, and how to
        have it the other way."""
        if not self.background:
            return None
        channels = f"the model outputs {len(self.values)} channels for {classes} class(es)"
        if self.writes_background:
            return (
                f"{channels}: channel 0 is background, written as 0 (attribute table row "
                "0 = Background); --arg predict_background=False gives every pixel a class"
            )
        return f"{channels}: channel 0 (background) is suppressed, every pixel gets a class"

    def classify(self, scores: NDArray[np.generic]) -> NDArray[np.int64]:
        """Class Values [N, H, W] from scores [N, K, H, W]: the argmax over the allowed channels
        of the float32 scores, first channel on ties, a NaN winning as in np.argmax.

        Channel by channel rather than np.argmax over axis 1: with a few channels, whole-plane
        comparisons run faster than a reduction across strided planes, and the disallowed
        channels need no masked copy of the scores."""
        planes = np.asarray(scores, dtype=np.float32)
        channels = np.flatnonzero(self.allowed)
        best = planes[:, channels[0]]
        winner = np.full(best.shape, self.values[channels[0]], dtype=np.int64)
        for channel in channels[1:].tolist():
            plane = planes[:, channel]
            better = (plane > best) | (np.isnan(plane) & ~np.isnan(best))
            best = np.where(better, plane, best)
            winner[better] = self.values[channel]
        return winner


def channel_map(
    classes: list[ClassEntry],
    channels: int,
    predict_background: bool | None,
    ignored: list[int] | None = None,
) -> ChannelMap:
    """Map `channels` output channels onto `classes`: one per class, or background first.
    `predict_background` None (not given) lets a background channel win."""
    values = [c.Value for c in classes]
    if channels == len(values):
        mapped, background = values, False
    elif channels == len(values) + 1:
        mapped, background = [0, *values], True
    else:
        raise ModelError(
            f"the model outputs {channels} channels for {len(values)} classes",
            "the contract is one channel per class, or one more for background first",
        )
    allowed = np.ones(channels, dtype=bool)
    if background:
        allowed[0] = predict_background is not False
    for channel in ignored or []:
        if 0 <= channel < channels:
            allowed[channel] = False
    if not allowed.any():
        raise ModelError("every output channel is suppressed (ignore_mapped_class)")
    return ChannelMap(np.asarray(mapped, dtype=np.int64), allowed, background)
