"""Label features: read with pyogrio, reprojected with pyproj, kept in raster pixel space.

Pixel space (column, row of the source raster) makes every per-chip step a translation.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.transform import array_bounds
from rasterio.warp import transform_bounds

from dlpk.errors import BadInputError
from dlpk.runners.io.rasters import RasterInfo

DEFAULT_CLASS_FIELDS = ("value", "classvalue")
#: Esri's Training Samples Manager writes Classname beside Classvalue.
DEFAULT_NAME_FIELDS = ("classname",)
#: How far past the valid longitudes and latitudes a geographic CRS's coordinates may go (a
#: ring closing over the antimeridian, 0..360 longitudes).
LONGITUDES, LATITUDES = (-180.0 - 1e-6, 360.0 + 1e-6), (-90.0 - 1e-6, 90.0 + 1e-6)


@dataclass(frozen=True)
class Features:
    """Label geometries in pixel space with their integer class values."""

    geoms: npt.NDArray[Any]  # shapely geometries
    values: npt.NDArray[np.int64]
    class_field: str | None


def is_vector(path: Path) -> bool:
    try:
        with warnings.catch_warnings():  # only probing: which layer is read is chosen later
            warnings.filterwarnings("ignore", "More than one layer found", UserWarning)
            pyogrio.read_info(path)
    except Exception:  # any OGR failure means "not a vector dataset"
        return False
    return True


def _pick_field(
    fields: list[str],
    requested: str | None,
    path: Path,
    defaults: tuple[str, ...] = DEFAULT_CLASS_FIELDS,
    what: str = "class field",
) -> str | None:
    by_lower = {name.lower(): name for name in fields}
    if requested is not None:
        found = by_lower.get(requested.lower())
        if found is None:
            raise BadInputError(
                f"{what} {requested!r} not found in {path}",
                hint=f"fields: {', '.join(fields) or 'none'}",
            )
        return found
    for name in defaults:
        if name in by_lower:
            return by_lower[name]
    return None


def layer_name(path: Path, layer: str | None, option: str = "--labels-layer") -> str | None:
    """The layer to read: the one asked for, else the only one (several need a choice)."""
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise BadInputError(f"{path} is not a readable feature layer ({exc})") from None
    if layer is not None:
        if layer not in layers:
            raise BadInputError(
                f"layer {layer!r} not found in {path}", hint=f"layers: {', '.join(layers)}"
            )
        return layer
    if len(layers) > 1:
        raise BadInputError(
            f"{path} holds {len(layers)} layers; choose one with {option}",
            hint=f"layers: {', '.join(layers)}",
        )
    return None


def _crs_name(crs: CRS) -> str:
    code = crs.to_authority()
    return ":".join(code) if code else crs.name


def check_declared_crs(geoms: npt.NDArray[Any], crs: Any, path: Path, raster: RasterInfo) -> None:
    """Coordinates that cannot be in the CRS the file declares (metres tagged as degrees: a
    GeoJSON without a "crs" member is WGS 84) are refused in one line, naming the CRS they
    seem to be in when they fall on the raster in its own."""
    if not len(geoms):
        return
    declared = CRS.from_user_input(crs)
    if not declared.is_geographic:
        return
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.total_bounds(geoms))
    fits = LONGITUDES[0] <= xmin and xmax <= LONGITUDES[1]
    if fits and LATITUDES[0] <= ymin and ymax <= LATITUDES[1]:
        return
    truth, code = "the CRS they are in", "CRS"
    on_raster = shapely.box(0, 0, raster.width, raster.height)
    placed = shapely.transform(shapely.box(xmin, ymin, xmax, ymax), _to_pixels(raster))
    if raster.crs_wkt is not None and shapely.intersects(placed, on_raster):
        code = _crs_name(CRS.from_wkt(raster.crs_wkt))
        truth = f"{code}, the raster's CRS, in which they fall on the raster"
    raise BadInputError(
        f"coordinates of {path} (x {xmin:.8g} to {xmax:.8g}, y {ymin:.8g} to {ymax:.8g}) do "
        f"not fit their declared CRS {_crs_name(declared)}: longitudes go from -180 to 360, "
        "latitudes from -90 to 90",
        hint=f"declare {truth}: ogr2ogr -a_srs {code} fixed.gpkg {path.name}; a GeoJSON file "
        'without a "crs" member is read as WGS 84',
    )


def _reproject(geoms: npt.NDArray[Any], crs: Any, raster: RasterInfo) -> npt.NDArray[Any]:
    """Reproject from `crs` to the raster's CRS (buffers are then in its linear unit).
    Coordinates the transformation cannot place (infinite, or not a number) are bad input."""
    assert raster.crs_wkt is not None
    src_crs, dst_crs = CRS.from_user_input(crs), CRS.from_wkt(raster.crs_wkt)
    if src_crs != dst_crs:
        transformer = Transformer.from_crs(src_crs, dst_crs, always_xy=True)

        def reproject(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            if not (np.isfinite(x).all() and np.isfinite(y).all()):
                raise BadInputError(
                    f"some coordinates in {_crs_name(src_crs)} have no place in the raster's "
                    f"CRS {_crs_name(dst_crs)}",
                    hint="check that the features' declared CRS is the one their "
                    "coordinates are in, and that they lie near the raster",
                )
            return np.column_stack([x, y])

        geoms = shapely.transform(geoms, reproject)
    return geoms


def _to_pixels(raster: RasterInfo) -> Any:
    """A shapely.transform function from the raster's map coordinates to its pixels."""
    inv = ~raster.transform

    def to_pixels(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = coords[:, 0], coords[:, 1]
        return np.column_stack([inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f])

    return to_pixels


def _map_to_pixels(geoms: npt.NDArray[Any], raster: RasterInfo) -> npt.NDArray[Any]:
    pixels: npt.NDArray[Any] = shapely.transform(geoms, _to_pixels(raster))
    return pixels


def _open_info(path: Path, layer: str | None, raster: RasterInfo, what: str) -> dict[str, Any]:
    if not path.exists():
        raise BadInputError(f"{what} not found: {path}")
    try:
        info: dict[str, Any] = pyogrio.read_info(path, layer=layer)
    except Exception as exc:
        raise BadInputError(f"cannot read {what} {path}: {exc}") from None
    if not info.get("crs"):
        raise BadInputError(f"{what} {path} have no coordinate reference system")
    if raster.crs_wkt is None:
        raise BadInputError(f"raster {raster.path} has no coordinate reference system")
    return info


@dataclass
class LoadedFeatures:
    """Label features as read, in their own CRS: read once, then placed on each raster of an
    export (`place_features`), a folder's images included. `names` are the class names the
    features give (by class value), `warnings` what the reading could not take as asked."""

    path: Path
    geoms: npt.NDArray[Any]  # shapely geometries, in `crs`
    values: npt.NDArray[np.int64]
    class_field: str | None
    crs: Any
    names: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Built on first use: only a folder's images look features up by place."""
        return shapely.STRtree(self.geoms)


def load_features(
    path: Path,
    raster: RasterInfo,
    class_field: str | None,
    layer: str | None = None,
    name_field: str | None = None,
    option: str = "--class-field",
) -> LoadedFeatures:
    """Read the geometries, class values and class names once; `raster` is the first they go
    on. Values come from `class_field` (else a field named value or classvalue), names from
    `name_field` (else a field named classname, as Esri's Training Samples Manager writes
    them). Without a value field the names number the classes (1, 2, ... in name order), and
    without either every feature is class 1, with a warning naming the fields there are
    (`option` is how the caller names a value field)."""
    if not path.exists():
        raise BadInputError(f"labels not found: {path}")
    layer = layer_name(path, layer)
    info = _open_info(path, layer, raster, "labels")
    fields = [str(f) for f in info["fields"]]
    chosen = _pick_field(fields, class_field, path)
    naming = _pick_field(fields, name_field, path, DEFAULT_NAME_FIELDS, "class name field")
    columns = list(dict.fromkeys(c for c in (chosen, naming) if c is not None))
    meta, _fids, wkb, field_data = pyogrio.raw.read(path, layer=layer, columns=columns)
    data = {
        str(name): np.asarray(column)
        for name, column in zip(meta["fields"], field_data, strict=True)
    }
    geoms = shapely.from_wkb(wkb)
    keep = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    check_declared_crs(geoms[keep], info["crs"], path, raster)
    # a self-intersecting polygon (a bow tie) is repaired, as ArcGIS's Repair Geometry would:
    # its area is kept, and clipping it to a chip no longer fails
    invalid = keep & ~shapely.is_valid(geoms)
    geoms[invalid] = shapely.make_valid(geoms[invalid])
    texts = _texts(data[naming]) if naming is not None else None
    warnings: list[str] = []
    if chosen is not None:
        values, valued = _integer_values(data[chosen], keep, chosen, path)
        keep &= valued
    elif texts is not None:
        keep &= texts != ""
        values, numbering = _numbered(texts, keep)
        warnings.append(
            f"{path.name} has no class value field: classes are numbered from {naming} in "
            f"name order ({numbering}); name a value field with {option}"
        )
    else:
        values = np.ones(len(geoms), dtype=np.int64)
        if fields:
            warnings.append(
                f"{path.name} has no class value field ({', '.join(DEFAULT_CLASS_FIELDS)}) "
                f"among its fields {', '.join(fields)}: every feature is class 1; name the "
                f"field with {option}"
            )
    names: dict[int, str] = {}
    if texts is not None and naming is not None:
        names, several = _class_names(values[keep], texts[keep])
        warnings += [f"{path.name}: {line} in {naming}" for line in several]
    return LoadedFeatures(path, geoms[keep], values[keep], chosen, info["crs"], names, warnings)


def _integer_values(
    raw: npt.NDArray[Any], kept: npt.NDArray[np.bool_], chosen: str, path: Path
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """The class value of each feature, and which have one (null is none); those of the
    `kept` features must be integers."""
    try:
        as_float = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise BadInputError(f"class field {chosen!r} in {path} is not numeric") from None
    valued = ~np.isnan(as_float)
    used = as_float[valued & kept]
    if not np.all(used == np.round(used)):
        raise BadInputError(f"class field {chosen!r} in {path} holds non-integer values")
    return np.where(valued, as_float, 0).astype(np.int64), valued


def _texts(raw: npt.NDArray[Any]) -> npt.NDArray[np.str_]:
    """A name field's values as stripped text; "" for null."""
    return np.array(
        [
            "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
            for v in raw
        ],
        dtype=str,
    )


def _numbered(
    texts: npt.NDArray[np.str_], keep: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], str]:
    """Class values 1, 2, ... for the distinct names in name order, and how they were given."""
    order = {name: number for number, name in enumerate(sorted(set(texts[keep].tolist())), 1)}
    values = np.array([order.get(text, 0) for text in texts.tolist()], dtype=np.int64)
    shown = [f"{name} = {number}" for name, number in order.items()]
    listed = ", ".join(shown[:10]) + (f" and {len(shown) - 10} more" if len(shown) > 10 else "")
    return values, listed


def _class_names(
    values: npt.NDArray[np.int64], texts: npt.NDArray[np.str_]
) -> tuple[dict[int, str], list[str]]:
    """Each class value's name: the one most of its features give (the first given on a tie);
    a line for each value whose features give several."""
    seen: dict[int, dict[str, int]] = {}
    for value, text in zip(values.tolist(), texts.tolist(), strict=True):
        if text:
            tally = seen.setdefault(int(value), {})
            tally[text] = tally.get(text, 0) + 1
    names = {value: max(tally, key=tally.__getitem__) for value, tally in seen.items()}
    several = [
        f"class {value} is named {', '.join(repr(t) for t in tally)}; {names[value]!r} is used"
        for value, tally in sorted(seen.items())
        if len(tally) > 1
    ]
    return names, several


def place_features(
    loaded: LoadedFeatures,
    raster: RasterInfo,
    buffer_radius: float = 0.0,
    require_overlap: bool = True,
    near: float | None = None,
) -> Features:
    """The features reprojected to the raster's CRS and put in its pixel space; checks
    overlap (an image of a folder may hold no feature: `require_overlap=False`). With `near`
    (pixels), only features within that distance of the raster are kept, in file order: the
    images of a folder each get the features around them, not a copy of every feature."""
    if raster.crs_wkt is None:
        raise BadInputError(f"raster {raster.path} has no coordinate reference system")
    geoms, values = loaded.geoms, loaded.values
    if near is not None and len(geoms):
        chosen = _near(loaded, raster, near, buffer_radius)
        if chosen is not None:
            geoms, values = geoms[chosen], values[chosen]
    geoms = _reproject(geoms, loaded.crs, raster) if len(geoms) else geoms
    if buffer_radius > 0:
        geoms = shapely.buffer(geoms, buffer_radius)
    geoms = _map_to_pixels(geoms, raster)
    if require_overlap and not overlaps(geoms, raster):
        raise BadInputError(f"labels {loaded.path} do not overlap the raster {raster.path}")
    return Features(geoms=geoms, values=values, class_field=loaded.class_field)


def _near(
    loaded: LoadedFeatures, raster: RasterInfo, pixels: float, buffer_radius: float
) -> npt.NDArray[np.intp] | None:
    """Indices (in file order) of the features meeting the raster's extent grown by `pixels`
    and the buffer radius, found in the labels' CRS; None when that extent cannot be put in
    the labels' CRS as one box (then every feature is kept)."""
    t = raster.transform
    grow = pixels * max(math.hypot(t.a, t.d), math.hypot(t.b, t.e)) + buffer_radius
    left, bottom, right, top = array_bounds(raster.height, raster.width, t)
    try:
        box = transform_bounds(
            str(raster.crs_wkt),
            CRS.from_user_input(loaded.crs).to_wkt(),
            left - grow,
            bottom - grow,
            right + grow,
            top + grow,
            densify_pts=21,
        )
    except Exception:  # an extent outside the labels' CRS's area of use
        return None
    if not all(math.isfinite(v) for v in box) or box[0] > box[2] or box[1] > box[3]:
        return None  # e.g. across the antimeridian
    return np.sort(loaded.tree.query(shapely.box(*box), predicate="intersects"))


def overlaps(geoms: npt.NDArray[Any], raster: RasterInfo) -> bool:
    """Whether any of `geoms` (in the raster's pixel space) meets the raster."""
    extent = shapely.box(0, 0, raster.width, raster.height)
    return len(geoms) > 0 and bool(shapely.intersects(geoms, extent).any())


def load_mask(path: Path, raster: RasterInfo) -> LoadedFeatures:
    """Mask polygons as read, once; `raster` is the first they go on (`place_mask`)."""
    layer = layer_name(path, None)
    info = _open_info(path, layer, raster, "mask polygons")
    _meta, _fids, wkb, _fields = pyogrio.raw.read(path, layer=layer, columns=[])
    geoms = shapely.from_wkb(wkb)
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    check_declared_crs(geoms, info["crs"], path, raster)
    polygonal = shapely.get_type_id(geoms)
    if len(geoms) == 0 or not np.isin(polygonal, (3, 6)).all():
        raise BadInputError(f"mask {path} must hold polygons")
    return LoadedFeatures(path, geoms, np.ones(len(geoms), dtype=np.int64), None, info["crs"])


def place_mask(
    loaded: LoadedFeatures, raster: RasterInfo, require_overlap: bool = True
) -> shapely.Geometry:
    """Mask polygons as one prepared area in raster pixel space (only chips inside it are kept)."""
    if raster.crs_wkt is None:
        raise BadInputError(f"raster {raster.path} has no coordinate reference system")
    area = shapely.union_all(_map_to_pixels(_reproject(loaded.geoms, loaded.crs, raster), raster))
    if require_overlap and not shapely.intersects(
        area, shapely.box(0, 0, raster.width, raster.height)
    ):
        raise BadInputError(f"mask polygons {loaded.path} do not overlap the raster {raster.path}")
    shapely.prepare(area)
    return area


def features_in_frame(
    features: Features,
    tree: shapely.STRtree,
    frame: Affine,
    width: int,
    height: int,
    min_overlap: float = 0.0,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[Any]]:
    """Indices of features in a chip and their parts inside it, in chip pixel coordinates.

    `frame` maps chip pixels to source pixels (see chips.frames). A polygon is dropped when less
    than `min_overlap` of its area lies inside the chip.
    """
    outline = shapely.Polygon(
        [frame @ (x, y) for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    )
    idx = np.sort(tree.query(outline, predicate="intersects"))
    if idx.size == 0:
        return idx, np.empty(0, dtype=object)
    whole = features.geoms[idx]
    parts = shapely.intersection(whole, outline)
    keep = ~shapely.is_empty(parts)
    if min_overlap > 0:
        area = shapely.area(whole)
        ratio = np.where(area > 0, shapely.area(parts) / np.where(area > 0, area, 1), 1.0)
        keep &= ratio >= min_overlap
    idx, parts = idx[keep], parts[keep]
    inv = ~frame

    def to_chip(c: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = c[:, 0], c[:, 1]
        return np.column_stack([inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f])

    return idx, shapely.transform(parts, to_chip)
