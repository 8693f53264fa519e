"""Which rasters a task reads: one raster, or a folder of images (ArcGIS's in_raster may be a
folder), processed as one mosaic or, for exports, item by item (processing_mode,
docs/esri-formats.md#the-inference-tools).

A mosaic is a VRT in a temporary folder of the runner: no pixel is copied, and the rest of the
task sees one ordinary GDAL raster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio
from affine import Affine

from dlpk.errors import BadInputError
from dlpk.remote import is_remote
from dlpk.runners.io.rasters import RasterInfo, open_raster_info, raster_info

# Files that sit beside images and are never images themselves: not even tried.
SIDECARS = (
    ".aux.xml", ".aux", ".ovr", ".rrd", ".msk", ".tfw", ".tifw", ".tiffw", ".jgw", ".jpgw",
    ".pgw", ".pngw", ".wld", ".prj", ".xml", ".txt", ".md", ".json", ".cpg", ".dbf", ".shx",
    ".shp", ".gpkg", ".geojson", ".zip",
)  # fmt: skip

GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "uint64": "UInt64",
    "int64": "Int64",
    "float32": "Float32",
    "float64": "Float64",
}

# Grid alignment tolerance, in pixels: tiles cut from one product line up to rounding error.
ALIGNMENT = 1e-3


@dataclass
class RasterSet:
    """The rasters of an export's in_raster, in name order, and the files that were not."""

    rasters: list[RasterInfo]
    skipped: list[Path] = field(default_factory=list)
    folder: bool = False

    @property
    def paths(self) -> list[Path]:
        return [Path(info.path) for info in self.rasters]


def list_rasters(path: Path) -> RasterSet:
    """A file is one raster; a folder gives every file in it that GDAL opens as a raster (not
    its subfolders), each opened once. Other files are reported as skipped, never silently
    dropped."""
    if not is_remote(path) and not path.exists():
        raise BadInputError(f"raster not found: {path}")
    if not path.is_dir():
        return RasterSet([open_raster_info(path)])
    found = RasterSet([], folder=True)
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        if entry.name.lower().endswith(SIDECARS):
            continue
        info = _info_if_raster(entry)
        if info is None:
            found.skipped.append(entry)
        else:
            found.rasters.append(info)
    if not found.rasters:
        raise BadInputError(
            f"folder {path} holds no raster GDAL can read",
            hint="pass a raster file, or a folder of images (GeoTIFF, JPEG 2000, ...)",
        )
    return found


def _info_if_raster(path: Path) -> RasterInfo | None:
    try:
        with rasterio.open(path) as src:
            if not src.count or src.width <= 0 or src.height <= 0:
                return None
            return raster_info(src, path)
    except rasterio.errors.RasterioIOError:
        return None


def check_items(infos: list[RasterInfo]) -> None:
    """Items exported into one folder share one band layout: arcgis.learn reads a single
    NumBands and band statistics per export."""
    first = infos[0]
    for info in infos[1:]:
        if (info.count, info.dtype) != (first.count, first.dtype):
            raise BadInputError(
                f"raster {Path(info.path).name} has {info.count} {info.dtype} bands, "
                f"{Path(first.path).name} has {first.count} {first.dtype}",
                hint="use images of one band layout together",
            )


ITEMS_SEPARATELY = "use processing mode PROCESS_ITEMS_SEPARATELY"


def write_mosaic(infos: list[RasterInfo], vrt: Path, alternative: str = ITEMS_SEPARATELY) -> Path:
    """A VRT mosaic of rasters on one grid (one CRS, one cell size, aligned origins); where
    images overlap, the later one in name order covers the earlier (as gdalbuildvrt), except
    for its nodata pixels. Pixels no image covers read as the images' shared nodata, else 0,
    and are masked (the mosaic's mask band is the images' masks). `alternative` is what the
    errors suggest instead of a mosaic."""
    check_items(infos)
    first = infos[0]
    unplaced = [Path(i.path).name for i in infos if i.crs_wkt is None]
    if unplaced:
        raise BadInputError(
            f"raster {unplaced[0]} has no CRS, so it has no place in a mosaic",
            hint=alternative,
        )
    for info in infos:
        _check_on_grid(info, first, f"{alternative}, or resample the images to one grid")
    res_x, res_y = first.transform.a, first.transform.e
    left = min(i.transform.c for i in infos)
    top = max(i.transform.f for i in infos) if res_y < 0 else min(i.transform.f for i in infos)
    places = [
        (round((i.transform.c - left) / res_x), round((i.transform.f - top) / res_y), i)
        for i in infos
    ]
    width = max(col + i.width for col, _, i in places)
    height = max(row + i.height for _, row, i in places)
    nodata = {i.nodata for i in infos}
    shared_nodata = nodata.pop() if len(nodata) == 1 else None
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">']
    lines.append(f"  <SRS>{escape(str(first.crs_wkt))}</SRS>")
    geo = Affine(res_x, 0, left, 0, res_y, top).to_gdal()
    lines.append(f"  <GeoTransform>{', '.join(repr(v) for v in geo)}</GeoTransform>")
    for band in range(1, first.count + 1):
        lines.append(f'  <VRTRasterBand dataType="{GDAL_TYPES[first.dtype]}" band="{band}">')
        lines.append(f"    <Description>{escape(first.band_names[band - 1])}</Description>")
        if shared_nodata is not None:
            lines.append(f"    <NoDataValue>{shared_nodata!r}</NoDataValue>")
        for number, (col, row, info) in enumerate(places):
            covers = _overlaps_earlier(places, number)
            lines += _source(info, str(band), col, row, info.nodata if covers else None)
        lines.append("  </VRTRasterBand>")
    # The images' masks, so that readers of masks (inference) see no data where no image is:
    # a mask pixel of 0 must not hide an earlier image's valid pixel either.
    lines += ["  <MaskBand>", '    <VRTRasterBand dataType="Byte">']
    for number, (col, row, info) in enumerate(places):
        lines += _source(info, "mask,1", col, row, 0 if _overlaps_earlier(places, number) else None)
    lines += ["    </VRTRasterBand>", "  </MaskBand>", "</VRTDataset>"]
    vrt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vrt


def _source(info: RasterInfo, band: str, col: int, row: int, nodata: float | None) -> list[str]:
    """One image's band (or "mask,1") in the mosaic. A plain copy (SimpleSource) unless
    `nodata` pixels must let an earlier image show through: GDAL's ComplexSource, which skips
    them, takes a general path that made a mosaic export a third slower."""
    kind = "SimpleSource" if nodata is None else "ComplexSource"
    size = f'xSize="{info.width}" ySize="{info.height}"'
    lines = [
        f"    <{kind}>",
        f'      <SourceFilename relativeToVRT="0">{escape(info.path)}</SourceFilename>',
        f"      <SourceBand>{band}</SourceBand>",
        f'      <SrcRect xOff="0" yOff="0" {size}/>',
        f'      <DstRect xOff="{col}" yOff="{row}" {size}/>',
    ]
    if nodata is not None:
        lines.append(f"      <NODATA>{nodata!r}</NODATA>")
    return [*lines, f"    </{kind}>"]


def _overlaps_earlier(places: list[tuple[int, int, RasterInfo]], number: int) -> bool:
    col, row, info = places[number]
    return any(
        col < c + i.width and c < col + info.width and row < r + i.height and r < row + info.height
        for c, r, i in places[:number]
    )


def _check_on_grid(info: RasterInfo, first: RasterInfo, hint: str) -> None:
    """One mosaic needs one grid; anything else would resample, which a task must not do
    silently."""
    name = Path(info.path).name
    if info.crs_wkt != first.crs_wkt and not _same_crs(info.crs_wkt, first.crs_wkt):
        raise BadInputError(
            f"raster {name} is in another CRS than {Path(first.path).name}; a mosaic needs one",
            hint=hint,
        )
    t, f = info.transform, first.transform
    if t.b or t.d or t.a <= 0:
        raise BadInputError(
            f"raster {name} is rotated or mirrored; a mosaic needs north-up images", hint=hint
        )
    if not (math.isclose(t.a, f.a, rel_tol=1e-9) and math.isclose(t.e, f.e, rel_tol=1e-9)):
        raise BadInputError(
            f"raster {name} has cells of {abs(t.a)} x {abs(t.e)}, "
            f"{Path(first.path).name} of {abs(f.a)} x {abs(f.e)}; a mosaic needs one cell size",
            hint=hint,
        )
    for offset, cell in ((t.c - f.c, f.a), (t.f - f.f, f.e)):
        pixels = offset / cell
        if abs(pixels - round(pixels)) > ALIGNMENT:
            raise BadInputError(
                f"raster {name} is not aligned with the grid of {Path(first.path).name} "
                f"({pixels:.3f} pixels off)",
                hint=hint,
            )


def _same_crs(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return bool(rasterio.crs.CRS.from_wkt(a) == rasterio.crs.CRS.from_wkt(b))


def skipped_warning(folder: Path, found: RasterSet) -> list[str]:
    """The files of a folder that are not rasters GDAL reads, named (at most five)."""
    if not found.skipped:
        return []
    names = ", ".join(p.name for p in found.skipped[:5])
    more = len(found.skipped) - 5
    return [
        f"{len(found.skipped)} file(s) in {folder} are not rasters GDAL reads and were "
        f"skipped: {names}" + (f" and {more} more" if more > 0 else "")
    ]
