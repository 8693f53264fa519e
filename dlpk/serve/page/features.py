"""A job's feature layer (detections, classified objects) as GeoJSON in EPSG:4326, the one CRS
GeoJSON knows, with each feature's class and confidence under names the page reads whatever
the task: `className` (the layer's Class or ClassLabel), `classValue`, `confidence`, and the
class colour when the model names one. The layer's own fields are kept beside them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer

from dlpk.serve.page.datasets import FileKey, LruCache, file_key
from dlpk.serve.page.grid import Bounds
from dlpk.serve.page.raster_layers import LONLAT, LayerUnavailable

#: A layer with more features is cut to this many (the GeoJSON says so): a browser draws a
#: few hundred thousand polygons slowly, and a job's detections are rarely that many.
MAX_FEATURES = 200_000
#: The fields read as a feature's class name, Value and confidence, in order of preference.
NAME_FIELDS = ("class", "classlabel", "classname", "label")
VALUE_FIELDS = ("classvalue", "value")
CONFIDENCE_FIELDS = ("confidence", "score")

Color = tuple[int, int, int]


@dataclass(frozen=True)
class FeatureLayer:
    """A layer's file, which of its layers is drawn, and its lon/lat bounds."""

    key: FileKey
    layer: str
    bounds: Bounds
    count: int


def choose_layer(path: Path) -> str:
    """The layer named after the file (as the layer writer names it), else the first."""
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as error:  # pyogrio raises DataSourceError and friends, all Exceptions
        raise LayerUnavailable(f"{path.name} cannot be read as a feature layer") from error
    if not names:
        raise LayerUnavailable(f"{path.name} holds no layer")
    return path.stem if path.stem in names else names[0]


def describe_layer(path: Path) -> FeatureLayer:
    if not path.exists():
        raise LayerUnavailable(f"{path.name} does not exist")
    layer = choose_layer(path)
    info = pyogrio.read_info(path, layer=layer)
    if not info.get("crs"):
        raise LayerUnavailable(f"{path.name} has no coordinate reference system")
    west, south, east, north = info["total_bounds"]
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        bounds: Bounds = (0.0, 0.0, 0.0, 0.0)
    else:
        to_lonlat = Transformer.from_crs(CRS(info["crs"]), LONLAT, always_xy=True)
        bounds = tuple(to_lonlat.transform_bounds(west, south, east, north, densify_pts=21))  # type: ignore[assignment]
    return FeatureLayer(file_key(path), layer, bounds, int(info["features"]))


def _field(names: list[str], wanted: tuple[str, ...]) -> int | None:
    lowered = [name.lower() for name in names]
    return next((lowered.index(w) for w in wanted if w in lowered), None)


def _plain(value: Any) -> Any:
    """A numpy cell as a JSON value (NaN, pyogrio's null, as None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    return value


def _value(cell: Any) -> int | None:
    plain = _plain(cell)
    if isinstance(plain, (int, float)) and not isinstance(plain, bool):
        return int(plain)
    try:
        return int(str(plain))
    except ValueError:
        return None


def geojson(layer: FeatureLayer, colours: dict[int, Color]) -> bytes:
    """The layer as a GeoJSON FeatureCollection (UTF-8 bytes)."""
    meta, fids, wkb, columns = pyogrio.raw.read(
        layer.key.path, layer=layer.layer, max_features=MAX_FEATURES, return_fids=True
    )
    names = [str(name) for name in meta["fields"]]
    geometries = shapely.from_wkb(wkb)
    to_lonlat = Transformer.from_crs(CRS(meta["crs"]), LONLAT, always_xy=True)
    geometries = shapely.transform(
        geometries, lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1]))
    )
    texts = shapely.to_geojson(geometries)
    name_at, value_at = _field(names, NAME_FIELDS), _field(names, VALUE_FIELDS)
    confidence_at = _field(names, CONFIDENCE_FIELDS)
    features = []
    for row, fid in enumerate(fids):
        properties = {name: _plain(columns[i][row]) for i, name in enumerate(names)}
        value = _value(columns[value_at][row]) if value_at is not None else None
        properties["className"] = _plain(columns[name_at][row]) if name_at is not None else None
        properties["classValue"] = value
        properties["confidence"] = (
            _plain(columns[confidence_at][row]) if confidence_at is not None else None
        )
        colour = colours.get(value) if value is not None else None
        properties["color"] = list(colour) if colour else None
        geometry = texts[row] if texts[row] is not None else "null"
        features.append(
            f'{{"type":"Feature","id":{int(fid)},"geometry":{geometry},'
            f'"properties":{json.dumps(properties, separators=(",", ":"))}}}'
        )
    truncated = "true" if layer.count > MAX_FEATURES else "false"
    return (
        f'{{"type":"FeatureCollection","truncated":{truncated},"features":[{",".join(features)}]}}'
    ).encode()


class FeatureCatalog:
    """Feature layers by file: their description and GeoJSON, made once and kept."""

    def __init__(self, capacity: int = 16) -> None:
        self._layers: LruCache[FeatureLayer] = LruCache(capacity * 4)
        self._documents: LruCache[bytes] = LruCache(capacity)

    def describe(self, path: Path) -> FeatureLayer:
        known = self._layers.get(file_key(path)) if path.exists() else None
        if known is not None:
            return known
        layer = describe_layer(path)
        return self._layers.put(layer.key, layer)

    def geojson(self, path: Path, colours: dict[int, Color]) -> bytes:
        layer = self.describe(path)
        cache_key = (layer.key, tuple(sorted(colours.items())))
        found = self._documents.get(cache_key)
        if found is None:
            found = self._documents.put(cache_key, geojson(layer, colours))
        return found
