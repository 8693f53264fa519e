"""Reading a raster attribute table and category names back through GDAL's own C API (ctypes),
as any GDAL-based program (QGIS, gdalinfo, ArcGIS's GDAL readers) would see them, not through
our XML."""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from pathlib import Path

#: GDALRATFieldUsage and GDALRATFieldType, by their values in gdal.h.
USAGES = {0: "Generic", 1: "PixelCount", 2: "Name", 3: "Min", 4: "Max", 5: "MinMax"}
USAGES |= {6: "Red", 7: "Green", 8: "Blue", 9: "Alpha"}
TYPES = {0: "Integer", 1: "Real", 2: "String"}
TABLE_TYPES = {0: "thematic", 1: "athematic"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    usage: str


@dataclass(frozen=True)
class AttributeTable:
    table_type: str
    columns: list[Column]
    rows: list[list[str]]  # GDALRATGetValueAsString of every cell
    integers: list[list[int]]  # GDALRATGetValueAsInt of every cell of the Integer columns


def gdal_library() -> ctypes.CDLL:
    """The libgdal rasterio uses: bundled beside its wheel, else the system's. Loaded after
    rasterio so the bundled library's own dependencies are already resolved."""
    import rasterio

    package = Path(rasterio.__file__).parent
    found = [
        *sorted(package.parent.glob("rasterio.libs/libgdal*")),
        *sorted(package.glob(".libs/libgdal*")),
        *sorted(package.glob(".dylibs/libgdal*")),
    ]
    name = str(found[0]) if found else ctypes.util.find_library("gdal")
    if name is None:
        raise RuntimeError("no libgdal beside rasterio or on the library path")
    library = ctypes.CDLL(name)
    handle, text = ctypes.c_void_p, ctypes.c_char_p
    signatures: dict[str, tuple[object, list[object]]] = {
        "GDALAllRegister": (None, []),
        "GDALOpen": (handle, [text, ctypes.c_int]),
        "GDALClose": (None, [handle]),
        "GDALGetRasterBand": (handle, [handle, ctypes.c_int]),
        "GDALGetDefaultRAT": (handle, [handle]),
        "GDALRATGetTableType": (ctypes.c_int, [handle]),
        "GDALRATGetRowCount": (ctypes.c_int, [handle]),
        "GDALRATGetColumnCount": (ctypes.c_int, [handle]),
        "GDALRATGetNameOfCol": (text, [handle, ctypes.c_int]),
        "GDALRATGetTypeOfCol": (ctypes.c_int, [handle, ctypes.c_int]),
        "GDALRATGetUsageOfCol": (ctypes.c_int, [handle, ctypes.c_int]),
        "GDALRATGetValueAsString": (text, [handle, ctypes.c_int, ctypes.c_int]),
        "GDALRATGetValueAsInt": (ctypes.c_int, [handle, ctypes.c_int, ctypes.c_int]),
        "GDALGetRasterCategoryNames": (ctypes.POINTER(text), [handle]),
        "GDALGetMetadata": (ctypes.POINTER(text), [handle, text]),
    }
    for function, (restype, argtypes) in signatures.items():
        getattr(library, function).restype = restype
        getattr(library, function).argtypes = argtypes
    return library


def read_attribute_table(path: Path, band: int = 1) -> AttributeTable | None:
    """Band `band`'s default raster attribute table as GDAL reads it; None when it has none."""
    gdal = gdal_library()
    gdal.GDALAllRegister()
    dataset = gdal.GDALOpen(str(path).encode(), 0)  # GA_ReadOnly
    if not dataset:
        raise OSError(f"GDAL cannot open {path}")
    try:
        table = gdal.GDALGetDefaultRAT(gdal.GDALGetRasterBand(dataset, band))
        if not table:
            return None
        count = gdal.GDALRATGetColumnCount(table)
        columns = [
            Column(
                gdal.GDALRATGetNameOfCol(table, c).decode(),
                TYPES[gdal.GDALRATGetTypeOfCol(table, c)],
                USAGES.get(gdal.GDALRATGetUsageOfCol(table, c), "other"),
            )
            for c in range(count)
        ]
        numbers = [c for c, column in enumerate(columns) if column.type == "Integer"]
        rows, integers = [], []
        for r in range(gdal.GDALRATGetRowCount(table)):
            rows.append([gdal.GDALRATGetValueAsString(table, r, c).decode() for c in range(count)])
            integers.append([gdal.GDALRATGetValueAsInt(table, r, c) for c in numbers])
        return AttributeTable(
            TABLE_TYPES.get(gdal.GDALRATGetTableType(table), "other"), columns, rows, integers
        )
    finally:
        gdal.GDALClose(dataset)


def read_category_names(path: Path, band: int = 1) -> list[str]:
    """Band `band`'s category names (GDALGetRasterCategoryNames: the name of pixel value i at
    index i) as GDAL reads them; empty when it has none."""
    gdal = gdal_library()
    gdal.GDALAllRegister()
    dataset = gdal.GDALOpen(str(path).encode(), 0)  # GA_ReadOnly
    if not dataset:
        raise OSError(f"GDAL cannot open {path}")
    try:
        raster_band = gdal.GDALGetRasterBand(dataset, band)
        # GDAL's GeoTIFF driver reads the .aux.xml on the first query of metadata (as gdalinfo
        # and QGIS make), not for GetCategoryNames alone
        gdal.GDALGetMetadata(raster_band, None)
        names = gdal.GDALGetRasterCategoryNames(raster_band)
        found: list[str] = []
        while names and names[len(found)] is not None:
            found.append(names[len(found)].decode())
        return found
    finally:
        gdal.GDALClose(dataset)
