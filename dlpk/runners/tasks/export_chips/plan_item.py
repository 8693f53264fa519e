"""One entry of the window plan: a chip to write."""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine

from dlpk.runners.io.windows import Window
from dlpk.runners.tasks.export_chips.frames import chip_frame


@dataclass(frozen=True)
class PlanItem:
    """A chip: its running index, its window, its rotation (rotated copies of a window are items
    of their own) and, for per-feature tiles, its feature."""

    index: int
    window: Window
    focus: int = -1
    angle: float = 0.0

    @property
    def frame(self) -> Affine:
        return chip_frame(self.window, self.angle)
