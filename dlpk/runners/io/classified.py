"""The classified raster: class Values written tile by tile, finished as a deflate COG with a
colour map and, in a GDAL .aux.xml, a raster attribute table (Value, Class, Red, Green, Blue)
and the band's category names (GDAL's CategoryNames: the name of each pixel value from 0 up,
which programs that ignore attribute tables, such as QGIS 3.22, show as the legend).

Tiles are written to an uncompressed tiled GeoTIFF beside the output (blocks rewritten in place,
so windows in any alignment cost no file growth); finishing copies it through GDAL's COG driver,
which compresses and lays the file out for range reads. The .aux.xml lands first, the .tif last:
a .tif under the final name is always complete. With a `Checkpoint` the tiled GeoTIFF is the
checkpoint's, kept when the run fails so that `--resume` can finish it (io/checkpoint.py).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import rasterio
import rasterio.shutil
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window as RioWindow

from dlpk.atomic import atomic_path
from dlpk.errors import BadInputError
from dlpk.runners.io.checkpoint import Checkpoint
from dlpk.runners.io.windows import Window

BLOCK = 256


@dataclass(frozen=True)
class ClassRow:
    value: int
    name: str
    color: tuple[int, int, int]


def output_dtype(values: list[int]) -> tuple[str, int]:
    """The smallest pixel type holding every class Value plus a nodata value that is no class."""
    low, high = min([0, *values]), max([0, *values])
    if low >= 0 and high < 255:
        return "uint8", 255
    if low >= 0 and high < 65535:
        return "uint16", 65535
    return "int32", int(np.iinfo(np.int32).min)


def xml_text(value: object) -> str:
    """One XML text node (None as empty). Leading whitespace goes in as character references:
    GDAL's XML parser drops it from a text node, so " Water" would read back as "Water"."""
    text = "" if value is None else str(value)
    body = text.lstrip()
    lead = text[: len(text) - len(body)]
    return "".join(f"&#{ord(char)};" for char in lead) + escape(body)


#: Category names are indexed by pixel value: written for Values of 0 up to this one only
#: (the 8- and 16-bit outputs; the colour map has the same bound).
MAX_CATEGORY_VALUE = 65534


def category_names(rows: list[ClassRow]) -> list[str] | None:
    """Each pixel value's class name, from 0 to the largest Value ("" for no class); None when
    a Value is negative or past MAX_CATEGORY_VALUE."""
    values = [row.value for row in rows]
    if not values or min(values) < 0 or max(values) > MAX_CATEGORY_VALUE:
        return None
    names = [""] * (max(values) + 1)
    for row in rows:
        names[row.value] = row.name
    return names


def rat_xml(rows: list[ClassRow]) -> str:
    """A GDAL PAM document holding band 1's category names and thematic raster attribute
    table."""
    fields = [("Value", 0, 5), ("Class", 2, 2), ("Red", 0, 6), ("Green", 0, 7), ("Blue", 0, 8)]
    lines = [
        "<PAMDataset>",
        '  <PAMRasterBand band="1">',
    ]
    names = category_names(rows)
    if names is not None:
        lines.append("    <CategoryNames>")
        lines += [f"      <Category>{xml_text(name)}</Category>" for name in names]
        lines.append("    </CategoryNames>")
    lines.append('    <GDALRasterAttributeTable tableType="thematic">')
    for index, (name, kind, usage) in enumerate(fields):
        lines.append(
            f'      <FieldDefn index="{index}"><Name>{name}</Name><Type>{kind}</Type>'
            f"<Usage>{usage}</Usage></FieldDefn>"
        )
    for index, row in enumerate(rows):
        cells = [str(row.value), xml_text(row.name), *(str(c) for c in row.color)]
        joined = "".join(f"<F>{cell}</F>" for cell in cells)
        lines.append(f'      <Row index="{index}">{joined}</Row>')
    lines += ["    </GDALRasterAttributeTable>", "  </PAMRasterBand>", "</PAMDataset>", ""]
    return "\n".join(lines)


def _reopen(path: Path) -> Any:
    with warnings.catch_warnings():  # no CRS: the task has already said so, once
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path, "r+")


class ClassifiedRasterWriter:
    """Write core windows of class Values in any order; `finish` publishes the output."""

    def __init__(
        self,
        target: Path,
        like: Any,
        rows: list[ClassRow],
        overwrite: bool = False,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.target = target
        self.rows = list(rows)
        self.overwrite = overwrite
        self.checkpoint = checkpoint
        self.dtype, self.nodata = output_dtype([row.value for row in rows])
        target.parent.mkdir(parents=True, exist_ok=True)
        if checkpoint is not None:
            self.scratch = checkpoint.partial
            if checkpoint.resumed and self.scratch.is_file():
                self.dataset: Any = _reopen(self.scratch)
                self._check_resumed(like)
                return
        else:
            handle, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part.tif", dir=target.parent
            )
            os.close(handle)
            self.scratch = Path(name)
        profile = {
            "driver": "GTiff",
            "width": like.width,
            "height": like.height,
            "count": 1,
            "dtype": self.dtype,
            "nodata": self.nodata,
            "crs": like.crs,
            "transform": like.transform,
            "tiled": True,
            "blockxsize": BLOCK,
            "blockysize": BLOCK,
            "BIGTIFF": "IF_SAFER",
        }
        with warnings.catch_warnings():  # no CRS: the task has already said so, once
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            self.dataset = rasterio.open(self.scratch, "w", **profile)

    def _check_resumed(self, like: Any) -> None:
        """A partial raster of another grid or pixel type cannot be finished (the checkpoint's
        signature makes this a safety net, not the rule)."""
        found = (self.dataset.width, self.dataset.height, self.dataset.dtypes[0])
        if found != (like.width, like.height, self.dtype):
            self.dataset.close()
            raise BadInputError(
                f"{self.scratch} is {found}, not a partial raster of this run",
                hint="run again without --resume",
            )

    def sync(self) -> None:
        """Put every tile written so far on disk (GDAL writes its cached blocks on close)."""
        self.dataset.close()
        self.dataset = _reopen(self.scratch)

    def add_first_row(self, row: ClassRow) -> None:
        """A row before the classes' (the background's), unless a class has its Value. Its
        Value must be one the pixel type holds (0 always is)."""
        if all(existing.value != row.value for existing in self.rows):
            self.rows.insert(0, row)

    def write(self, window: Window, values: NDArray[np.generic]) -> None:
        rio = RioWindow(window.col, window.row, window.width, window.height)
        self.dataset.write(values.astype(self.dtype)[np.newaxis], window=rio)

    def _colormap(self) -> dict[int, tuple[int, int, int, int]]:
        return {row.value: (*row.color, 255) for row in self.rows if 0 <= row.value < 65535}

    def finish(self) -> None:
        if self.dtype in ("uint8", "uint16"):
            self.dataset.write_colormap(1, self._colormap())
        self.dataset.close()
        aux = self.target.with_name(self.target.name + ".aux.xml")
        with atomic_path(self.target, self.overwrite) as cog:
            cog.unlink()
            rasterio.shutil.copy(
                self.scratch,
                cog,
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR="2" if self.dtype != "uint8" else "1",
                BLOCKSIZE=str(BLOCK),
                OVERVIEW_RESAMPLING="NEAREST",
                BIGTIFF="IF_SAFER",
                # tiles are compressed independently: the bytes do not depend on the threads
                NUM_THREADS="ALL_CPUS",
            )
            stray = cog.with_name(cog.name + ".aux.xml")
            stray.unlink(missing_ok=True)
            with atomic_path(aux, overwrite=True) as temporary:
                temporary.write_text(rat_xml(self.rows), encoding="utf-8")

    def abort(self) -> None:
        """Close; the partial raster goes unless a checkpoint keeps it for a resume (with
        every tile written so far: closing flushes them)."""
        if not self.dataset.closed:
            self.dataset.close()
            if self.checkpoint is not None:
                self.checkpoint.record(stopped=True)
        if self.checkpoint is None:
            self.scratch.unlink(missing_ok=True)

    def __enter__(self) -> ClassifiedRasterWriter:
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
                if self.checkpoint is not None:
                    self.checkpoint.remove()
        finally:
            self.abort()
