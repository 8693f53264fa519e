"""The feature layer of classify-objects: read it, move it to the raster's CRS to cut chips, and
write it back with one label per feature.

The output keeps every input feature, in order, with its geometry, CRS and fields, and adds
ClassLabel, ClassValue and Confidence, null for a feature that got no label; whatever runs the
model, the layer has the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer

from dlpk.errors import BadInputError, InputNotFoundError
from dlpk.runners.io.labels import layer_name
from dlpk.runners.io.layers import write_layer

ADDED_FIELDS = ("ClassLabel", "ClassValue", "Confidence")
Confidence = float | str | None


@dataclass
class Labels:
    """One label, class Value and confidence per feature; None where a feature got none."""

    names: list[str | None]
    values: list[int | None]
    confidence: list[Confidence]

    @classmethod
    def empty(cls, count: int) -> Labels:
        return cls([None] * count, [None] * count, [None] * count)


@dataclass(frozen=True)
class FeatureLayer:
    """The layer's metadata (pyogrio's), shapely geometries and field arrays."""

    meta: dict[str, Any]
    geometries: NDArray[np.object_]
    fields: list[NDArray[Any]]

    @property
    def crs(self) -> str | None:
        return self.meta.get("crs") or None


def read_features(path: Path, layer: str | None = None) -> FeatureLayer:
    """Every feature of `layer` of `path` (the only layer when None; several need a choice)."""
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file")
    chosen = layer_name(path, layer, "--features-layer")
    try:
        meta, _, wkb, fields = pyogrio.raw.read(path, layer=chosen)
    except Exception as exc:  # pyogrio raises its own DataSourceError / DataLayerError
        raise BadInputError(f"{path} is not a readable feature layer ({exc})") from exc
    if wkb is None:
        raise BadInputError(f"{path} has no geometries")
    return FeatureLayer(meta, np.asarray(shapely.from_wkb(wkb), dtype=object), list(fields))


def to_raster_crs(
    geometries: NDArray[np.object_], source_crs: str | None, raster_crs: Any
) -> NDArray[np.object_]:
    """Reproject when both CRSs are known and differ; otherwise assume they agree."""
    if not source_crs or raster_crs is None:
        return geometries
    source, target = CRS.from_user_input(source_crs), CRS.from_user_input(raster_crs.to_wkt())
    if source == target:
        return geometries
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def move(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geometries, move), dtype=object)


def _confidence_column(values: list[Confidence]) -> NDArray[Any]:
    """Numbers as a double column; text (a multi-label model's `;`-joined scores) as a string
    column, so nothing is lost."""
    given = [v for v in values if v is not None]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def replaced_fields(layer: FeatureLayer, source: Path) -> list[str]:
    """The warning that the layer's own ClassLabel, ClassValue or Confidence fields (in any
    case: OGR field names ignore it) are replaced by this run's in the output."""
    names = [str(name) for name in layer.meta["fields"] if _is_added(str(name))]
    if not names:
        return []
    listed = ", ".join(names)
    return [
        f"{source.name} already has field(s) {listed}: the output holds this run's "
        f"{', '.join(ADDED_FIELDS)} instead (field names ignore case); the input is unchanged"
    ]


def _is_added(name: str) -> bool:
    return name.casefold() in {added.casefold() for added in ADDED_FIELDS}


def write_labelled(output: Path, layer: FeatureLayer, labels: Labels, overwrite: bool) -> None:
    """The input layer with ClassLabel, ClassValue and Confidence added (None is null); fields
    of the input named like them, in any case, are replaced (`replaced_fields` says so)."""
    columns: dict[str, NDArray[Any]] = {
        name: data
        for name, data in zip(layer.meta["fields"], layer.fields, strict=True)
        if not _is_added(str(name))
    }
    columns["ClassLabel"] = np.array(["" if v is None else v for v in labels.names], dtype=object)
    columns["ClassValue"] = np.array([0 if v is None else v for v in labels.values], np.int32)
    columns["Confidence"] = _confidence_column(labels.confidence)
    given: dict[str, list[Any]] = {
        "ClassLabel": labels.names,
        "ClassValue": labels.values,
        "Confidence": labels.confidence,
    }
    nulls = {name: np.array([v is None for v in column], bool) for name, column in given.items()}
    wkb = np.asarray(shapely.to_wkb(layer.geometries), dtype=object)
    geometry_type = str(layer.meta.get("geometry_type") or "Unknown")
    write_layer(output, wkb, geometry_type, columns, layer.crs, overwrite, nulls)


def label_counts(labels: Labels, classified: int) -> dict[str, int]:
    """What the task reports: features in the layer, those outside the processing area (not
    classified) and those that got a label."""
    features = len(labels.names)
    labelled = sum(name is not None for name in labels.names)
    return {"features": features, "outside_area": features - classified, "labelled": labelled}
