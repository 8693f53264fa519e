"""From model channels to class Values and names, as ArcGIS maps them (reference §1.6)."""

from __future__ import annotations

import random
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ChannelMap:
    """Channel i of the model's output is class Value `values[i]`; channels not `allowed` never
    win the argmax."""

    values: NDArray[np.int64]
    allowed: NDArray[np.bool_]

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
    """Map `channels` output channels onto `classes`: one per class, or background first."""
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
        if predict_background is None:  # ArcGIS's default (reference §1.6)
            predict_background = 0 in values or len(values) <= 1
        allowed[0] = predict_background
    for channel in ignored or []:
        if 0 <= channel < channels:
            allowed[channel] = False
    if not allowed.any():
        raise ModelError("every output channel is suppressed (ignore_mapped_class)")
    return ChannelMap(np.asarray(mapped, dtype=np.int64), allowed)
