"""What outputs may be: formats by extension, and the refusal to replace what the user has.

Pure data and path checks, so a launcher can refuse a bad output before any job is built.
"""

from __future__ import annotations

from pathlib import Path

from dlpk.errors import OutputExistsError, UsageError

#: Classified rasters are GeoTIFFs (COGs).
RASTER_SUFFIXES = (".tif", ".tiff")

#: Vector layers: the OGR driver for each extension.
DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".gdb": "OpenFileGDB",
}
LAYER_SUFFIXES = tuple(DRIVERS)


def check_output(output: Path, overwrite: bool, suffixes: tuple[str, ...]) -> None:
    """Refuse before any work: an existing output without overwrite, or an unknown format."""
    if output.suffix.lower() not in suffixes:
        raise UsageError(f"{output}: unsupported output format", f"use {', '.join(suffixes)}")
    if output.exists() and not overwrite:
        raise OutputExistsError(f"{output} already exists", "pass --overwrite to replace it")
