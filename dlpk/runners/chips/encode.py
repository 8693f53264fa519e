"""Encode a chip array to file bytes in memory, plus its georeferencing sidecars.

Encoding in memory lets the caller write each file under a temporary name and rename it, and
hash what it wrote without reading it back.
"""

from __future__ import annotations

import warnings
from typing import Any
from xml.sax.saxutils import escape

import numpy.typing as npt
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from dlpk.runners.chips.formats import DRIVER


def encode_raster(
    array: npt.NDArray[Any],
    chip_format: str,
    transform: Affine,
    crs_wkt: str | None,
    nodata: float | None = None,
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
            data: bytes = mem.read()
    return data


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
