"""The descriptive parts of a raster function's output_info, read into what the output holds:
statistics, histograms, a colour map and a raster attribute table (docs/esri-formats.md#methods,
Esri's Reference.py). Each bad answer is one ModelError naming the function and the property."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from dlpk.errors import ModelError
from dlpk.runners.io.function_raster import (
    STATISTICS,
    AttributeTable,
    Histogram,
    TableColumn,
)
from dlpk.runners.models.base import one_line

#: Esri field types of an attribute table -> GDAL's; OID and geometry fields are dropped.
FIELD_TYPES = {
    "esriFieldTypeInteger": "Integer",
    "esriFieldTypeSmallInteger": "Integer",
    "esriFieldTypeBigInteger": "Integer",
    "esriFieldTypeDouble": "Real",
    "esriFieldTypeSingle": "Real",
}
SKIPPED_FIELDS = ("esriFieldTypeOID", "esriFieldTypeGeometry")
USAGE_OF = {"value": "MinMax", "class": "Name", "classname": "Name", "count": "PixelCount"}
USAGE_OF |= {"red": "Red", "green": "Green", "blue": "Blue"}


def empty(value: Any) -> bool:
    """None, or an empty array, tuple, list, dict or text: ArcGIS's way of saying none."""
    if value is None:
        return True
    if isinstance(value, np.ndarray):
        return value.size == 0
    return isinstance(value, list | tuple | dict | str) and len(value) == 0


def statistics_of(value: Any, name: str) -> list[dict[str, float]]:
    entries = [value] if isinstance(value, dict) else list(value)
    found = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ModelError(
                f"{name}: updateRasterInfo() statistics must be one dict per band "
                "({'minimum', 'maximum', 'mean', 'standardDeviation'})"
            )
        try:
            found.append({k: float(entry[k]) for k in STATISTICS if entry.get(k) is not None})
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{name}: updateRasterInfo() statistics: {one_line(exc)}") from exc
    return found


def histograms_of(
    value: Any, dtype: str, statistics: list[dict[str, float]], name: str, notes: list[str]
) -> list[Histogram | None]:
    """One per band: {'minimum', 'maximum', 'counts'} or bare counts, whose range is then the
    band's statistics or, for 8-bit types, one bucket per value."""
    found: list[Histogram | None] = []
    for band, entry in enumerate(list(value)):
        low = high = None
        counts = entry
        if isinstance(entry, dict):
            counts, low, high = entry.get("counts"), entry.get("minimum"), entry.get("maximum")
        elif band < len(statistics) and {"minimum", "maximum"} <= set(statistics[band]):
            low, high = statistics[band]["minimum"], statistics[band]["maximum"]
        elif np.dtype(dtype).itemsize == 1:
            limits = np.iinfo(np.dtype(dtype))
            low, high = limits.min - 0.5, limits.max + 0.5
        try:
            buckets = [int(c) for c in np.asarray(counts).ravel()]
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{name}: updateRasterInfo() histogram: {one_line(exc)}") from exc
        if low is None or high is None or not buckets:
            notes.append(f"{name}: band {band + 1}'s histogram has no range; it is not written")
            found.append(None)
            continue
        found.append(Histogram(float(low), float(high), buckets))
    return found


def colour_map_of(value: Any, name: str) -> dict[int, tuple[int, int, int]]:
    try:
        if isinstance(value, dict):
            pairs = [(int(k), tuple(int(c) for c in v[:3])) for k, v in value.items()]
        else:
            values, red, green, blue = (np.asarray(v).ravel().tolist() for v in value)
            pairs = [(int(v), (int(r), int(g), int(b))) for v, r, g, b in
                     zip(values, red, green, blue, strict=True)]  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{name}: updateRasterInfo() colormap must be (values, red, green, blue) arrays "
            f"({one_line(exc)})"
        ) from exc
    if any(not 0 <= c <= 255 for _, colour in pairs for c in colour):
        raise ModelError(f"{name}: updateRasterInfo() colormap colours must be 0..255")
    return {v: (c[0], c[1], c[2]) for v, c in pairs}


def _kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | np.integer) for v in present):
        return "Integer"
    if present and all(isinstance(v, int | float | np.number) for v in present):
        return "Real"
    return "String"


def attribute_table(value: Any, name: str, notes: list[str]) -> AttributeTable | None:
    """A feature set ({"fields": [...], "features": [{"attributes": ...}]}, as JSON text or a
    dict: what arcgis.learn's functions write). ArcGIS's other form, a table path and its
    field names, needs arcpy to read and is reported, not written."""
    if empty(value):
        return None
    if isinstance(value, list | tuple):
        notes.append(f"{name}: rasterAttributeTable names a table ({value[0]!r}); dlpk reads "
                     "feature-set JSON only, so the output has no attribute table")  # fmt: skip
        return None
    try:
        document = json.loads(value) if isinstance(value, str | bytes) else value
        features = [f.get("attributes") or {} for f in document.get("features", [])]
        declared = document.get("fields") or [{"name": k} for k in (features or [{}])[0]]
        fields = [f for f in declared if f.get("type") not in SKIPPED_FIELDS]
        names = [str(f["name"]) for f in fields]
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ModelError(
            f"{name}: updateRasterInfo() rasterAttributeTable is not a feature set "
            f"({one_line(exc)})",
            'give {"fields": [{"name", "type"}], "features": [{"attributes": {...}}]}',
        ) from exc
    columns = []
    for entry, column in zip(fields, names, strict=True):
        values = [f.get(column) for f in features]
        kind = FIELD_TYPES.get(str(entry.get("type")), "") or _kind(values)
        usage = USAGE_OF.get(column.lower(), "Generic")
        columns.append(TableColumn(column, kind, usage))
    rows = [[f.get(column) for column in names] for f in features]
    return AttributeTable(columns, rows)
