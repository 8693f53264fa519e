"""A classified raster's classes as a map draws them: Value, name and colour, from its GDAL
attribute table (the .aux.xml beside it: a thematic raster attribute table and category names,
as the classified-raster writer leaves them and ArcGIS and QGIS read them), else from its colour
map alone.

The attribute table names the classes; the colour map alone cannot (GDAL fills the gaps between
its entries with opaque black), so without a table only the colour map's named or non-black
entries are classes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

#: GDALRATFieldUsage values (gdal.h) of the columns a legend needs.
USAGE_NAME, USAGE_MIN, USAGE_MINMAX = 2, 3, 5
USAGE_RED, USAGE_GREEN, USAGE_BLUE = 6, 7, 8
#: A PAM document larger than this is no legend of ours: not read.
MAX_AUX_BYTES = 16 * 1024 * 1024

Color = tuple[int, int, int]


@dataclass(frozen=True)
class LegendEntry:
    value: int
    name: str
    color: Color | None

    def as_json(self) -> dict[str, object]:
        return {
            "value": self.value,
            "name": self.name,
            "color": list(self.color) if self.color else None,
        }


@dataclass(frozen=True)
class BandNotes:
    """What band 1's PAM document says: attribute table rows and category names."""

    table: list[LegendEntry]
    categories: list[str]


def aux_path(raster: Path) -> Path:
    return raster.with_name(raster.name + ".aux.xml")


def read_band_notes(raster: Path) -> BandNotes:
    """Band 1's attribute table and category names from the raster's .aux.xml (empty when
    there is none, or it cannot be read: a legend is never worth a failed page)."""
    aux = aux_path(raster)
    try:
        if not aux.is_file() or aux.stat().st_size > MAX_AUX_BYTES:
            return BandNotes([], [])
        root = ET.fromstring(aux.read_bytes())
    except (OSError, ET.ParseError):
        return BandNotes([], [])
    band = next((b for b in root.iter("PAMRasterBand") if b.get("band", "1") == "1"), None)
    if band is None:
        return BandNotes([], [])
    categories = [c.text or "" for c in band.findall("./CategoryNames/Category")]
    table = band.find("GDALRasterAttributeTable")
    return BandNotes(_table_rows(table) if table is not None else [], categories)


def _column(usages: dict[int, int], names: dict[str, int], usage: int, *labels: str) -> int | None:
    """A column by its usage, else by one of its usual names (case-insensitive)."""
    if usage in usages:
        return usages[usage]
    return next((names[label] for label in labels if label in names), None)


def _table_rows(table: ET.Element) -> list[LegendEntry]:
    usages: dict[int, int] = {}
    names: dict[str, int] = {}
    reals: set[int] = set()
    for definition in table.findall("FieldDefn"):
        index = int(definition.get("index", "-1"))
        usage = int(definition.findtext("Usage") or "0")
        if usage:
            usages.setdefault(usage, index)
        names.setdefault((definition.findtext("Name") or "").strip().lower(), index)
        if (definition.findtext("Type") or "") == "1":
            reals.add(index)
    value = _column(usages, names, USAGE_MINMAX, "value")
    if value is None:
        value = _column(usages, names, USAGE_MIN)
    label = _column(usages, names, USAGE_NAME, "class", "classname", "class_name", "name")
    rgb = [
        _column(usages, names, USAGE_RED, "red"),
        _column(usages, names, USAGE_GREEN, "green"),
        _column(usages, names, USAGE_BLUE, "blue"),
    ]
    if value is None:
        return []
    rows = [[cell.text or "" for cell in row.findall("F")] for row in table.findall("Row")]
    # GDAL allows colour columns as reals from 0 to 1
    unit = all(i in reals for i in rgb if i is not None) and all(
        _number(row, i) <= 1 for row in rows for i in rgb if i is not None
    )
    entries = []
    for row in rows:
        try:
            number = int(float(row[value]))
        except (IndexError, ValueError):
            continue
        name = row[label] if label is not None and label < len(row) else str(number)
        color: Color | None = None
        if all(i is not None for i in rgb):
            scale = 255 if unit else 1
            parts = [round(_number(row, i) * scale) for i in rgb if i is not None]
            color = (_channel(parts[0]), _channel(parts[1]), _channel(parts[2]))
        entries.append(LegendEntry(number, name, color))
    return entries


def _number(row: list[str], index: int) -> float:
    try:
        return float(row[index])
    except (IndexError, ValueError):
        return 0.0


def _channel(value: float) -> int:
    return max(0, min(255, int(value)))


def legend_of(
    notes: BandNotes, colormap: dict[int, tuple[int, int, int, int]] | None
) -> list[LegendEntry]:
    """The classes to draw and list: the attribute table's rows (colours from the table, else
    the colour map), else the colour map's entries that have a category name, else its
    entries that are neither transparent nor GDAL's black filler."""
    colours = colormap or {}

    def from_map(value: int) -> Color | None:
        found = colours.get(value)
        return (found[0], found[1], found[2]) if found and found[3] > 0 else None

    if notes.table:
        return [
            LegendEntry(e.value, e.name, e.color if e.color else from_map(e.value))
            for e in notes.table
        ]
    named = [(value, name) for value, name in enumerate(notes.categories) if name]
    if named:
        return [LegendEntry(value, name, from_map(value)) for value, name in named]
    return [
        LegendEntry(value, str(value), (r, g, b))
        for value, (r, g, b, a) in sorted(colours.items())
        if a > 0 and (r, g, b) != (0, 0, 0)
    ]
