"""The workers' results merged into the export's totals: band moments, class counts, map.txt
lines and the files written.

Groups come back in schedule order, which depends on the workers; they are merged in plan
order, so the statistics (and the root files made from them) are the same whatever the
number of workers or the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlpk.runners.tasks.export_chips.formats import FormatTraits
from dlpk.runners.tasks.export_chips.stats import BandMoments, ClassSummary
from dlpk.runners.tasks.export_chips.worker import GroupResult


@dataclass
class Totals:
    """What the root files and the report need of all chips."""

    bands: BandMoments
    summary: ClassSummary
    bands2: BandMoments | None = None
    map_lines: list[str] = field(default_factory=list)
    files: list[tuple[str, int, str]] = field(default_factory=list)
    written: int = 0


def merge_groups(
    groups: list[GroupResult],
    traits: FormatTraits,
    classes: dict[int, str],
    band_count: int,
    band_count2: int | None,
) -> Totals:
    """Totals of `groups` (sorted into plan order here); `band_count2` is the second raster's
    band count, None without one."""
    totals = Totals(
        bands=BandMoments.empty(band_count),
        summary=ClassSummary(values=list(classes)),
        bands2=BandMoments.empty(band_count2) if band_count2 is not None else None,
    )
    for group in sorted(groups, key=lambda g: g.chips[0].index):
        totals.bands.merge(group.bands)
        if totals.bands2 is not None and group.bands2 is not None:
            totals.bands2.merge(group.bands2)
        for result in group.chips:
            if traits.labels in ("raster", "panoptic"):
                totals.summary.add_pixels(result.class_pixels)
            elif traits.labels != "none":
                totals.summary.add_features(result.features)
            totals.map_lines.append(result.map_line)
            totals.files.extend(result.files)
            totals.written += result.written
    return totals
