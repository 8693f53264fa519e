"""Encode a chip array to file bytes in memory, plus its georeferencing sidecars.

Encoding in memory lets the caller write each file under a temporary name and rename it, and
hash what it wrote without reading it back.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from dlpk.runners.tasks.export_chips.formats import DRIVER

#: A one-band raster's colour table: pixel value -> (red, green, blue, alpha).
Colormap = dict[int, tuple[int, int, int, int]]


def encode_raster(
    array: npt.NDArray[Any],
    chip_format: str,
    transform: Affine,
    crs_wkt: str | None,
    nodata: float | None = None,
    colormap: Colormap | None = None,
) -> bytes:
    count, height, width = array.shape
    profile: dict[str, Any] = {
        "driver": DRIVER[chip_format],
        "width": width,
        "height": height,
        "count": count,
        "dtype": array.dtype.name,
    }
    if chip_format == "TIFF":
        profile.update(transform=transform, crs=crs_wkt, nodata=nodata)
        if count == 3 and array.dtype.name == "uint8":
            profile["photometric"] = "RGB"
    with warnings.catch_warnings():
        # PNG/JPEG chips are georeferenced by their sidecars, not inside the file
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as mem:
            with mem.open(**profile) as dst:
                dst.write(array)
                if colormap is not None:
                    dst.write_colormap(1, colormap)
            data: bytes = mem.read()
    return data


@dataclass(frozen=True)
class _Template:
    """A GeoTIFF GDAL wrote, with where its pixels and its tie point sit in the bytes."""

    data: bytes
    pixels_at: int
    tie_at: tuple[int, int]


class GeoTiffEncoder:
    """Uncompressed north-up GeoTIFF chips of one shape, dtype, CRS and cell size, fast.

    Such chips differ only in their pixels and their tie point, so after GDAL has written one
    (the template) the rest are the template with those two parts replaced: about twenty times
    faster than a GDAL encode per chip. The template is checked at creation: a chip patched
    from it must equal, byte for byte, what GDAL writes for another chip and origin; when it
    does not (or for rotated chips, other formats) every chip goes through GDAL.
    """

    # Chips of many shapes (Labeled_Tiles cropped to each feature) would each cost a template
    # and keep it: past this many shapes, new ones go through GDAL.
    MAX_TEMPLATES = 8

    def __init__(self) -> None:
        self._templates: dict[tuple[Any, ...], _Template | None] = {}

    def encode(
        self,
        array: npt.NDArray[Any],
        transform: Affine,
        crs_wkt: str | None,
        nodata: float | None = None,
        colormap: Colormap | None = None,
    ) -> bytes:
        if transform.b != 0 or transform.d != 0:
            return encode_raster(array, "TIFF", transform, crs_wkt, nodata, colormap)
        colours = tuple(sorted(colormap.items())) if colormap is not None else None
        key = (array.shape, array.dtype.str, crs_wkt, nodata, transform.a, transform.e, colours)
        if key not in self._templates:
            if len(self._templates) >= self.MAX_TEMPLATES:
                return encode_raster(array, "TIFF", transform, crs_wkt, nodata, colormap)
            self._templates[key] = _make_template(array, transform, crs_wkt, nodata, colormap)
        template = self._templates[key]
        if template is None:
            return encode_raster(array, "TIFF", transform, crs_wkt, nodata, colormap)
        return _patch(template, array, transform)


def _pixel_bytes(array: npt.NDArray[Any]) -> bytes:
    """Pixel-interleaved little-endian, as GDAL stores multi-band uncompressed GeoTIFF.

    Band by band into the interleaved buffer: about six times faster than copying the
    transposed view, whose innermost axis (the bands) is only a few elements long."""
    bands = array.shape[0]
    interleaved = np.empty((*array.shape[1:], bands), dtype=array.dtype.newbyteorder("<"))
    for band in range(bands):
        interleaved[..., band] = array[band]
    return interleaved.tobytes()


def _patch(template: _Template, array: npt.NDArray[Any], transform: Affine) -> bytes:
    at = template.pixels_at
    pixels = _pixel_bytes(array)
    head = bytearray(template.data[:at])
    for offset, value in zip(template.tie_at, (transform.c, transform.f), strict=True):
        head[offset : offset + 8] = struct.pack("<d", value)
    return b"".join((head, pixels, template.data[at + len(pixels) :]))


def _make_template(
    array: npt.NDArray[Any],
    transform: Affine,
    crs_wkt: str | None,
    nodata: float | None,
    colormap: Colormap | None = None,
) -> _Template | None:
    rng = np.random.default_rng(7)
    probe = rng.integers(1, 250, array.shape).astype(array.dtype)
    # origins unlikely to occur elsewhere in the file, to find where the tie point is stored
    origin = Affine(transform.a, 0, 1234567.0 + 0.1234, 0, transform.e, 7654321.0 + 0.4321)
    data = encode_raster(probe, "TIFF", origin, crs_wkt, nodata, colormap)
    pixels_at = data.find(_pixel_bytes(probe))
    c_at = data.find(struct.pack("<d", origin.c))
    f_at = data.find(struct.pack("<d", origin.f))
    if min(pixels_at, c_at, f_at) < 0 or max(c_at, f_at) + 8 > pixels_at:
        return None
    template = _Template(data, pixels_at, (c_at, f_at))
    check = rng.integers(0, 255, array.shape).astype(array.dtype)
    moved = Affine(transform.a, 0, 2345.5, 0, transform.e, -6789.25)
    expected = encode_raster(check, "TIFF", moved, crs_wkt, nodata, colormap)
    if _patch(template, check, moved) != expected:
        return None
    return template


def world_file(transform: Affine) -> str:
    """ESRI world file: pixel sizes and rotations, then the centre of the top-left pixel."""
    t = transform
    x = t.c + t.a / 2 + t.b / 2
    y = t.f + t.d / 2 + t.e / 2
    return "".join(f"{v:.10f}\n" for v in (t.a, t.d, t.b, t.e, x, y))


def aux_xml(crs_wkt: str) -> str:
    """The PAM sidecar GDAL reads the CRS of a PNG or JPEG chip from."""
    return (
        "<PAMDataset>\n"
        f'  <SRS dataAxisToSRSAxisMapping="1,2">{escape(crs_wkt)}</SRS>\n'
        "</PAMDataset>\n"
    )
