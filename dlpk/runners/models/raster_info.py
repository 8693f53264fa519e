"""updateRasterInfo, called as ArcGIS calls it (docs/esri-formats.md#methods), and its answer read.

The function receives its scalars (as getConfiguration did), `<raster>_info` describing the
input as updatePixels will see it (the extracted bands; f4 once dataRange rescales them) and
`output_info`, populated as ArcGIS populates it from the input and getConfiguration: the
input's properties, without statistics or histogram when invalidateProperties says so
(2, 4), without noData when inheritProperties leaves it out (2). Where the reference is
silent, dlpk chooses, and says so here:

- the input's statistics are the ones stored with it (GDAL STATISTICS_*), else (); its
  histogram and attribute table are always () (dlpk does not compute them to hand them on);
- the output's statistics, histogram, colour map and attribute table are the function's only
  when it set them (they differ from what it was handed): the input's describe other pixels.
  Statistics it leaves out are computed from the written pixels;
- the output lies on the input's grid: a function moving the extent, cell size or spatial
  reference is refused (dlpk's tools do not resample).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlpk.errors import ModelError
from dlpk.runners.io.function_raster import AttributeTable, Histogram
from dlpk.runners.models.base import one_line
from dlpk.runners.models.output_properties import (
    attribute_table,
    colour_map_of,
    empty,
    histograms_of,
    statistics_of,
)
from dlpk.runners.models.raster_function import BlockConfiguration, RasterFunction

#: Esri pixel type codes (numpy's array-interface codes; t = 1, 2, 4 bits) -> numpy types.
PIXEL_TYPES = {
    "t1": "uint8",
    "t2": "uint8",
    "t4": "uint8",
    "u1": "uint8",
    "i1": "int8",
    "u2": "uint16",
    "i2": "int16",
    "u4": "uint32",
    "i4": "int32",
    "f4": "float32",
    "f8": "float64",
}
#: The older spelling, still in Esri's first reference function.
LONG_NAMES = {
    "1_BIT": "t1",
    "2_BIT": "t2",
    "4_BIT": "t4",
    "8_BIT_UNSIGNED": "u1",
    "8_BIT_SIGNED": "i1",
    "16_BIT_UNSIGNED": "u2",
    "16_BIT_SIGNED": "i2",
    "32_BIT_UNSIGNED": "u4",
    "32_BIT_SIGNED": "i4",
    "32_BIT_FLOAT": "f4",
    "64_BIT": "f8",
}
CODES = {numpy: code for code, numpy in PIXEL_TYPES.items() if not code.startswith("t")}
GRID_KEYS = ("extent", "cellSize", "spatialReference")
#: ArcGIS's statistics keys -> GDAL's STATISTICS_ metadata names.
STATISTIC_TAGS = {"minimum": "MINIMUM", "maximum": "MAXIMUM", "mean": "MEAN"}
STATISTIC_TAGS |= {"standardDeviation": "STDDEV"}


def pixel_code(value: Any, name: str) -> str:
    """An Esri pixel type code from what a function may give: 'f4', '32_BIT_FLOAT', a numpy
    type or its name ('<f8' from `array.dtype.str`, 'float32')."""
    if value is None:
        raise ModelError(f"{name}: updateRasterInfo() gave pixelType None")
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in LONG_NAMES:
            return LONG_NAMES[text.upper()]
        if text.lower() in PIXEL_TYPES:
            return text.lower()
    try:
        numpy = np.dtype(value).name
    except (TypeError, ValueError):
        numpy = ""
    if numpy in CODES:
        return CODES[numpy]
    raise ModelError(
        f"{name}: updateRasterInfo() gave pixelType {value!r}",
        f"use one of {', '.join(PIXEL_TYPES)}",
    )


def spatial_reference(dataset: Any) -> int | str | None:
    """ArcGIS hands an EPSG code; a CRS without one goes as its WKT."""
    if dataset.crs is None:
        return None
    epsg = dataset.crs.to_epsg()
    return int(epsg) if epsg is not None else str(dataset.crs.to_wkt())


def _stored_statistics(dataset: Any, bands: list[int]) -> tuple[dict[str, float], ...]:
    found = []
    for band in bands:
        tags = dataset.tags(band + 1)
        try:
            found.append({k: float(tags[f"STATISTICS_{g}"]) for k, g in STATISTIC_TAGS.items()})
        except (KeyError, ValueError):
            return ()
    return tuple(found)


def _colormap(dataset: Any, band: int) -> tuple[Any, ...]:
    """(values int32, red, green, blue uint8): ArcGIS's form of a colour map; () without one."""
    try:
        table = dataset.colormap(band + 1)
    except ValueError:
        return ()
    values = np.array(sorted(table), dtype=np.int32)
    channels = [np.array([table[v][i] for v in values], dtype=np.uint8) for i in range(3)]
    return (values, *channels)


def input_info(dataset: Any, bands: list[int], rescaled: bool) -> dict[str, Any]:
    """`<raster>_info`: the input as updatePixels receives it."""
    bounds = dataset.bounds
    extent = (float(bounds.left), float(bounds.bottom), float(bounds.right), float(bounds.top))
    nodata = [dataset.nodatavals[b] for b in bands]
    reference = spatial_reference(dataset)
    return {
        "bandCount": len(bands),
        "pixelType": "f4" if rescaled else CODES.get(str(dataset.dtypes[bands[0]]), "f8"),
        "noData": None if all(v is None for v in nodata) else np.array(nodata, dtype=np.float64),
        "cellSize": (abs(float(dataset.transform.a)), abs(float(dataset.transform.e))),
        "extent": extent,
        "nativeExtent": extent,
        "spatialReference": reference,
        "nativeSpatialReference": reference,
        "statistics": _stored_statistics(dataset, bands),
        "histogram": (),
        "colormap": _colormap(dataset, bands[0]),
        "rasterAttributeTable": (),
    }


def output_start(info: dict[str, Any], config: BlockConfiguration) -> dict[str, Any]:
    """`output_info` before the function edits it."""
    start = copy.deepcopy(info)
    if config.invalidate & 2:
        start["statistics"] = ()
    if config.invalidate & 4:
        start["histogram"] = ()
    if config.inherit is not None and not config.inherit & 2:
        start["noData"] = None
    return start


def _plain(value: Any) -> Any:
    """A comparable form: arrays as lists, tuples as lists, NaN as a string."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def changed(before: Any, after: Any) -> bool:
    return bool(_plain(before) != _plain(after))


@dataclass(frozen=True)
class OutputInfo:
    """What updateRasterInfo declared; None where the function set nothing of its own."""

    code: str
    dtype: str
    bands: int
    nodata: list[float] | None
    nodata_set: bool
    statistics: list[dict[str, float]] | None = None
    histograms: list[Histogram | None] | None = None
    colormap: dict[int, tuple[int, int, int]] | None = None
    table: AttributeTable | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def integer(self) -> bool:
        return np.dtype(self.dtype).kind in "iu"


def _nodata(
    value: Any, bands: int, dtype: str, name: str, inherited: bool, notes: list[str]
) -> list[float] | None:
    """One noData per band. An inherited one (the function left the input's) follows the band
    count and is dropped when the declared type cannot hold it, as the input's 65535 in a u1
    output; one the function set must fit."""
    if empty(value):
        return None
    values = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel().tolist()
    if len(values) == 1 or (inherited and len(values) != bands):
        values = values[:1] * bands
    if len(values) != bands:
        raise ModelError(f"{name}: updateRasterInfo() gave {len(values)} noData for {bands} bands")
    kind = np.dtype(dtype)
    for number in values:
        if kind.kind in "iu":
            limits = np.iinfo(kind)
            if float(number).is_integer() and limits.min <= number <= limits.max:
                continue
            if inherited:
                notes.append(
                    f"{name}: the input's noData {number:g} does not fit the {dtype} output; "
                    "dlpk chooses one (declare noData in updateRasterInfo to choose)"
                )
                return None
            raise ModelError(
                f"{name}: updateRasterInfo() gave noData {number:g}, which a {dtype} raster "
                "cannot hold"
            )
    return [float(v) for v in values]


def read_output_info(info: Any, start: dict[str, Any], name: str, notes: list[str]) -> OutputInfo:
    """The declared output, checked; `start` is what the function was handed."""
    if not isinstance(info, dict):
        raise ModelError(f"{name}: updateRasterInfo() must return its kwargs with output_info")
    for key in GRID_KEYS:
        if key in info and changed(start.get(key), info.get(key)):
            raise ModelError(
                f"{name}: updateRasterInfo() changed the output's {key}",
                "dlpk writes the output on the input raster's grid; it does not resample",
            )
    code = pixel_code(info.get("pixelType", start["pixelType"]), name)
    dtype = PIXEL_TYPES[code]
    try:
        bands = int(info.get("bandCount", start["bandCount"]))
    except (TypeError, ValueError):
        bands = 0
    if bands < 1:
        raise ModelError(f"{name}: updateRasterInfo() gave bandCount {info.get('bandCount')!r}")
    nodata_set = changed(start.get("noData"), info.get("noData"))
    nodata = _nodata(info.get("noData"), bands, dtype, name, not nodata_set, notes)

    def own(key: str) -> Any:
        value = info.get(key)
        return None if empty(value) or not changed(start.get(key), value) else value

    statistics = statistics_of(own("statistics"), name) if own("statistics") is not None else None
    histograms = None
    if own("histogram") is not None:
        histograms = histograms_of(own("histogram"), dtype, statistics or [], name, notes)
    colormap = colour_map_of(own("colormap"), name) if own("colormap") is not None else None
    if colormap is not None and (bands != 1 or dtype not in ("uint8", "uint16")):
        notes.append(f"{name}: a GeoTIFF holds a colour map for one 8- or 16-bit band only; "
                     f"the {bands}-band {code} output has none")  # fmt: skip
        colormap = None
    return OutputInfo(
        code=code,
        dtype=dtype,
        bands=bands,
        nodata=nodata,
        nodata_set=nodata_set,
        statistics=statistics,
        histograms=histograms,
        colormap=colormap,
        table=attribute_table(own("rasterAttributeTable"), name, notes),
        warnings=notes,
    )


def update_raster_info(
    function: RasterFunction,
    scalars: dict[str, Any],
    raster: str,
    info: dict[str, Any],
    start: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> OutputInfo:
    """Call updateRasterInfo(**scalars, <raster>_info=..., output_info=...) and read what it
    returns; `extra` holds further kwargs (`<raster>_keyMetadata`)."""
    kwargs = {**scalars, **(extra or {})}
    kwargs[f"{raster}_info"] = copy.deepcopy(info)
    kwargs["output_info"] = copy.deepcopy(start)
    result = function.call("updateRasterInfo", **kwargs)
    output = result.get("output_info") if isinstance(result, dict) else None
    try:
        return read_output_info(output, start, function.name, [])
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ModelError(
            f"{function.name}: updateRasterInfo() gave an output_info dlpk cannot read "
            f"({one_line(exc)})",
            "see the raster info properties in Esri's Reference.py",
        ) from exc
