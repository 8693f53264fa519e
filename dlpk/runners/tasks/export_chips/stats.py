"""Statistics accumulated chip by chip and merged exactly, whatever the order of workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass
class BandMoments:
    """Per band count, mean, sum of squared deviations (M2), min and max (Chan et al. merge)."""

    count: npt.NDArray[np.int64]
    mean: npt.NDArray[np.float64]
    m2: npt.NDArray[np.float64]
    min: npt.NDArray[np.float64]
    max: npt.NDArray[np.float64]

    @classmethod
    def empty(cls, bands: int) -> BandMoments:
        return cls(
            count=np.zeros(bands, np.int64),
            mean=np.zeros(bands),
            m2=np.zeros(bands),
            min=np.full(bands, np.inf),
            max=np.full(bands, -np.inf),
        )

    @classmethod
    def of(cls, data: npt.NDArray[Any], valid: npt.NDArray[np.bool_] | None) -> BandMoments:
        """Moments of a (bands, rows, cols) array over the pixels where `valid` is true.

        8- and 16-bit data take an exact integer path (sums and sums of squares in int64): it is
        several times faster than float64 and runs once per chip, and merges reproduce exactly.
        """
        bands = data.shape[0]
        flat = data.reshape(bands, -1) if valid is None or valid.all() else data[:, valid]
        out = cls.empty(bands)
        n = flat.shape[1]
        if n == 0:
            return out
        out.count[:] = n
        out.min[:] = flat.min(axis=1)
        out.max[:] = flat.max(axis=1)
        if flat.dtype.kind in "ui" and flat.dtype.itemsize <= 2:
            as_int = flat.astype(np.int64)
            s1 = as_int.sum(axis=1)
            s2 = np.einsum("ij,ij->i", as_int, as_int)
            for b in range(bands):
                total, squares = int(s1[b]), int(s2[b])
                out.mean[b] = total / n
                out.m2[b] = (n * squares - total * total) / n  # exact numerator
            return out
        values = flat.astype(np.float64)
        out.mean[:] = values.mean(axis=1)
        out.m2[:] = np.square(values - out.mean[:, None]).sum(axis=1)
        return out

    def merge(self, other: BandMoments) -> None:
        n = self.count + other.count
        safe = np.where(n == 0, 1, n)
        delta = other.mean - self.mean
        self.mean = self.mean + delta * other.count / safe
        self.m2 = self.m2 + other.m2 + delta**2 * self.count * other.count / safe
        self.count = n
        self.min = np.minimum(self.min, other.min)
        self.max = np.maximum(self.max, other.max)


@dataclass
class Running:
    """Min, Max, Mean, Sum, Count of a series, as Esri's stats objects hold them."""

    count: int = 0
    sum: float = 0.0
    min: float = float("inf")
    max: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def as_esri(self) -> dict[str, float | int]:
        if self.count == 0:
            return {"Min": 0, "Max": 0, "Mean": 0, "Sum": 0, "Count": 0}
        return {
            "Min": self.min,
            "Max": self.max,
            "Mean": self.sum / self.count,
            "Sum": self.sum,
            "Count": self.count,
        }


@dataclass
class ClassSummary:
    """Per-class counts over all exported chips, for pixel or feature formats."""

    values: list[int]
    images_total: int = 0
    images_per_class: dict[int, int] = field(default_factory=dict)
    amount_per_class: dict[int, float] = field(default_factory=dict)  # pixels or features
    per_image: Running = field(default_factory=Running)  # classes (pixel) / features per image
    per_class: dict[int, Running] = field(default_factory=dict)  # pixels per image / areas
    sizes: dict[int, Running] = field(default_factory=dict)  # feature box sizes (pixels)

    def add_pixels(self, counts: dict[int, int]) -> None:
        self.images_total += 1
        present = [v for v, n in counts.items() if n > 0]
        self.per_image.add(len(present))
        for value in present:
            self.images_per_class[value] = self.images_per_class.get(value, 0) + 1
            self.amount_per_class[value] = self.amount_per_class.get(value, 0) + counts[value]
            self.per_class.setdefault(value, Running()).add(counts[value])

    def add_features(self, features: list[tuple[int, float, float]]) -> None:
        """`features`: (class value, area in map units², box size in pixels) per feature."""
        self.images_total += 1
        self.per_image.add(len(features))
        seen: set[int] = set()
        for value, area, size in features:
            seen.add(value)
            self.amount_per_class[value] = self.amount_per_class.get(value, 0) + 1
            self.per_class.setdefault(value, Running()).add(area)
            self.sizes.setdefault(value, Running()).add(size)
        for value in seen:
            self.images_per_class[value] = self.images_per_class.get(value, 0) + 1
