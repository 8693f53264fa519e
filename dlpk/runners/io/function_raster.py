"""The raster a Python raster function declares (updateRasterInfo, docs/esri-formats.md#methods),
written as declared: its pixel type, band count and noData, no clipping to class Values, finished as
a deflate COG. What the function said about it (statistics, histograms, a raster attribute table,
key metadata) goes into a GDAL .aux.xml beside it; a colour map goes into the COG.

Statistics are exact: each band's minimum, maximum, mean and standard deviation are gathered
from the valid pixels as blocks are written, and any value the function gave itself takes
their place (GDAL needs all four, and functions usually give only a range). As with the
classified raster, the .aux.xml lands first and the .tif last, so a .tif under the final name
is always complete.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import rasterio
import rasterio.shutil
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window as RioWindow

from dlpk.atomic import atomic_path
from dlpk.runners.io.classified import BLOCK, xml_text
from dlpk.runners.io.windows import Window

#: GDAL's raster attribute table field types and usages (gdal.h), by name.
FIELD_TYPES = {"Integer": 0, "Real": 1, "String": 2}
USAGES = {"Generic": 0, "PixelCount": 1, "Name": 2, "MinMax": 5, "Red": 6, "Green": 7, "Blue": 8}
STATISTICS = ("minimum", "maximum", "mean", "standardDeviation")
GDAL_STATISTICS = {
    "minimum": "STATISTICS_MINIMUM",
    "maximum": "STATISTICS_MAXIMUM",
    "mean": "STATISTICS_MEAN",
    "standardDeviation": "STATISTICS_STDDEV",
}


@dataclass(frozen=True)
class TableColumn:
    name: str
    kind: str  # a FIELD_TYPES name
    usage: str  # a USAGES name


@dataclass(frozen=True)
class AttributeTable:
    """A raster attribute table for band 1: thematic when it has a Value column."""

    columns: list[TableColumn]
    rows: list[list[Any]]

    @property
    def thematic(self) -> bool:
        return any(c.usage == "MinMax" for c in self.columns)


@dataclass(frozen=True)
class Histogram:
    """Bucket counts over [minimum, maximum] (the outer edges of the first and last bucket)."""

    minimum: float
    maximum: float
    counts: list[int]


@dataclass(frozen=True)
class RasterLayout:
    """Everything the output holds besides its pixels; lists are one entry per band."""

    dtype: str
    count: int
    nodata: float
    colormap: dict[int, tuple[int, int, int]] | None = None
    table: AttributeTable | None = None
    statistics: list[dict[str, float]] = field(default_factory=list)
    histograms: list[Histogram | None] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    band_metadata: list[dict[str, str]] = field(default_factory=list)


class BandStatistics:
    """Running count, minimum, maximum, mean and sum of squared deviations (Chan et al.'s
    pairwise update, so the mean and deviation stay exact over millions of pixels)."""

    def __init__(self) -> None:
        self.count = 0
        self.minimum = np.inf
        self.maximum = -np.inf
        self.mean = 0.0
        self.squares = 0.0

    def add(self, values: NDArray[Any]) -> None:
        if values.size == 0:
            return
        data = values.astype(np.float64)
        count, mean = data.size, float(data.mean())
        squares = float(((data - mean) ** 2).sum())
        total = self.count + count
        delta = mean - self.mean
        self.squares += squares + delta * delta * self.count * count / total
        self.mean += delta * count / total
        self.count = total
        self.minimum = min(self.minimum, float(data.min()))
        self.maximum = max(self.maximum, float(data.max()))

    def values(self) -> dict[str, float]:
        if self.count == 0:
            return {}
        deviation = float(np.sqrt(self.squares / self.count))
        return {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "mean": self.mean,
            "standardDeviation": deviation,
        }


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _metadata(items: dict[str, str], indent: str) -> list[str]:
    if not items:
        return []
    lines = [f"{indent}<Metadata>"]
    for key, value in items.items():
        lines.append(f"{indent}  <MDI key={quoteattr(key)}>{xml_text(value)}</MDI>")
    return [*lines, f"{indent}</Metadata>"]


def _table(table: AttributeTable) -> list[str]:
    kind = "thematic" if table.thematic else "athematic"
    lines = [f'    <GDALRasterAttributeTable tableType="{kind}">']
    for index, column in enumerate(table.columns):
        lines.append(
            f'      <FieldDefn index="{index}"><Name>{xml_text(column.name)}</Name>'
            f"<Type>{FIELD_TYPES[column.kind]}</Type><Usage>{USAGES[column.usage]}</Usage>"
            "</FieldDefn>"
        )
    for index, row in enumerate(table.rows):
        joined = "".join(f"<F>{xml_text(cell)}</F>" for cell in row)
        lines.append(f'      <Row index="{index}">{joined}</Row>')
    return [*lines, "    </GDALRasterAttributeTable>"]


def _histogram(histogram: Histogram) -> list[str]:
    counts = "|".join(str(int(c)) for c in histogram.counts)
    return [
        "    <Histograms>",
        "      <HistItem>",
        f"        <HistMin>{_number(histogram.minimum)}</HistMin>",
        f"        <HistMax>{_number(histogram.maximum)}</HistMax>",
        f"        <BucketCount>{len(histogram.counts)}</BucketCount>",
        "        <IncludeOutOfRange>0</IncludeOutOfRange>",
        "        <Approximate>0</Approximate>",
        f"        <HistCounts>{counts}</HistCounts>",
        "      </HistItem>",
        "    </Histograms>",
    ]


def pam_xml(layout: RasterLayout, statistics: list[dict[str, float]], valid: list[float]) -> str:
    """The GDAL PAM document: dataset key metadata; per band its histogram, statistics
    (with the percentage of valid pixels) and key metadata; band 1's attribute table."""
    lines = ["<PAMDataset>", *_metadata(layout.metadata, "  ")]
    for band in range(layout.count):
        lines.append(f'  <PAMRasterBand band="{band + 1}">')
        histogram = layout.histograms[band] if band < len(layout.histograms) else None
        if histogram is not None:
            lines += _histogram(histogram)
        items: dict[str, str] = {}
        if statistics[band]:
            items = {GDAL_STATISTICS[k]: _number(v) for k, v in statistics[band].items()}
            items["STATISTICS_VALID_PERCENT"] = _number(round(valid[band], 6))
        if band < len(layout.band_metadata):
            items |= layout.band_metadata[band]
        lines += _metadata(items, "    ")
        if band == 0 and layout.table is not None:
            lines += _table(layout.table)
        lines.append("  </PAMRasterBand>")
    lines += ["</PAMDataset>", ""]
    return "\n".join(lines)


class FunctionRasterWriter:
    """Write core windows of every band in any order; `finish` publishes the output."""

    def __init__(
        self, target: Path, like: Any, layout: RasterLayout, overwrite: bool = False
    ) -> None:
        self.target = target
        self.layout = layout
        self.overwrite = overwrite
        self.bands = [BandStatistics() for _ in range(layout.count)]
        self.nodata_held = 0  # valid pixels whose value is the nodata value
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part.tif", dir=target.parent
        )
        os.close(handle)
        self.scratch = Path(name)
        profile = {
            "driver": "GTiff",
            "width": like.width,
            "height": like.height,
            "count": layout.count,
            "dtype": layout.dtype,
            "nodata": layout.nodata,
            "crs": like.crs,
            "transform": like.transform,
            "tiled": True,
            "blockxsize": BLOCK,
            "blockysize": BLOCK,
            "BIGTIFF": "IF_SAFER",
        }
        with warnings.catch_warnings():  # no CRS: the task has already said so, once
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            self.dataset: Any = rasterio.open(self.scratch, "w", **profile)

    def write(self, window: Window, values: NDArray[Any], valid: NDArray[np.bool_]) -> None:
        """`values` [bands, rows, cols] already in the layout's type; nodata where not `valid`
        (same shape). Statistics skip nodata pixels, as GDAL's do."""
        nodata = self.layout.nodata
        same = np.isnan(values) if np.isnan(nodata) else values == nodata
        self.nodata_held += int((valid & same).sum())
        for band, stats in enumerate(self.bands):
            kept = values[band][valid[band] & ~same[band]]
            stats.add(kept[np.isfinite(kept)] if kept.dtype.kind == "f" else kept)
        out = np.where(valid, values, np.asarray(nodata).astype(self.layout.dtype))
        rio = RioWindow(window.col, window.row, window.width, window.height)
        self.dataset.write(out.astype(self.layout.dtype, copy=False), window=rio)

    def _statistics(self) -> tuple[list[dict[str, float]], list[float]]:
        pixels = max(1, int(self.dataset.width) * int(self.dataset.height))
        merged = []
        for band, stats in enumerate(self.bands):
            declared = self.layout.statistics[band] if band < len(self.layout.statistics) else {}
            found = stats.values()
            merged.append({k: declared.get(k, found[k]) for k in STATISTICS} if found else {})
        return merged, [100.0 * s.count / pixels for s in self.bands]

    def finish(self) -> None:
        layout = self.layout
        if layout.colormap is not None:
            self.dataset.write_colormap(1, {v: (*c, 255) for v, c in layout.colormap.items()})
        self.dataset.close()
        statistics, valid = self._statistics()
        aux = self.target.with_name(self.target.name + ".aux.xml")
        with atomic_path(self.target, self.overwrite) as cog:
            cog.unlink()
            rasterio.shutil.copy(
                self.scratch,
                cog,
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR="NO" if np.dtype(layout.dtype).itemsize == 1 else "YES",
                BLOCKSIZE=str(BLOCK),
                OVERVIEW_RESAMPLING="NEAREST",  # overviews sample pixels, never blend them
                BIGTIFF="IF_SAFER",
                NUM_THREADS="ALL_CPUS",
            )
            cog.with_name(cog.name + ".aux.xml").unlink(missing_ok=True)
            with atomic_path(aux, overwrite=True) as temporary:
                temporary.write_text(pam_xml(layout, statistics, valid), encoding="utf-8")

    def abort(self) -> None:
        if not self.dataset.closed:
            self.dataset.close()
        self.scratch.unlink(missing_ok=True)
        self.scratch.with_name(self.scratch.name + ".aux.xml").unlink(missing_ok=True)

    def __enter__(self) -> FunctionRasterWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.finish()
        finally:
            self.abort()
