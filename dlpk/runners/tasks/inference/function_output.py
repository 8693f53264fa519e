"""Which raster classify-pixels writes through a raster function, decided before any block.

A function without updateRasterInfo, or whose output_info still describes class Values (one
band of an integer type, and nothing the classified raster could not hold: no noData,
statistics, histogram or colour map of its own, no key metadata, and an attribute table, if
any, of Value, Class and colours only), gets the classified COG: the smallest type holding the
Values, a nodata no class holds, the colour map and attribute table of the .emd's Classes, or
of the function's own table. Anything else (probabilities in f4, several bands, its own
noData...) is written exactly as declared (io/function_raster.py): no clipping to class
Values, its attribute table as it gave it.

updatePixels' `props` describe the raster written: pixelType is the declared one (the
classified raster's own without updateRasterInfo), noData one value per band.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.runners.io.classified import ClassifiedRasterWriter, ClassRow, output_dtype
from dlpk.runners.io.function_raster import AttributeTable, FunctionRasterWriter, RasterLayout
from dlpk.runners.io.windows import Window
from dlpk.runners.models.key_metadata import KeyMetadata, key_metadata, requested
from dlpk.runners.models.opened import OpenedModel
from dlpk.runners.models.raster_function import RasterFunction
from dlpk.runners.models.raster_info import (
    CODES,
    OutputInfo,
    input_info,
    output_start,
    update_raster_info,
)
from dlpk.runners.tasks.inference.classes import class_color, class_rows
from dlpk.runners.tasks.inference.function_host import Prepared
from dlpk.spec.emd import ClassEntry

CLASS_COLUMNS = {"value", "class", "classname", "red", "green", "blue"}
BITS = {"t1": 1, "t2": 2, "t4": 4}


@dataclass(frozen=True)
class OutputPlan:
    """The output's form: classified (`rows`) or as declared (`layout`)."""

    code: str  # props' pixelType
    dtype: str  # what is written
    bands: int
    nodata: float
    rows: list[ClassRow] | None = None
    layout: RasterLayout | None = None
    chosen_nodata: bool = False  # the function declared none: dlpk chose it
    warnings: list[str] = field(default_factory=list)

    @property
    def limits(self) -> tuple[float, float] | None:
        """The values an integer output can hold; None for floats."""
        if self.code in BITS:
            return 0, 2 ** BITS[self.code] - 1
        kind = np.dtype(self.dtype)
        if kind.kind not in "iu":
            return None
        return float(np.iinfo(kind).min), float(np.iinfo(kind).max)


def table_classes(table: AttributeTable, classes: list[ClassEntry]) -> list[ClassRow] | None:
    """The function's table as class rows, when it holds only Value, Class and colours and its
    Values are integers; a missing colour is the .emd class's, else class_color's."""
    names = [c.name.lower() for c in table.columns]
    if not set(names) <= CLASS_COLUMNS or "value" not in names:
        return None
    if "class" not in names and "classname" not in names:
        return None
    label = names.index("class" if "class" in names else "classname")
    known = {c.Value: c for c in classes}
    rows = []
    for row in table.rows:
        value = row[names.index("value")]
        if not isinstance(value, int | float) or not float(value).is_integer():
            return None
        label_text = "" if row[label] is None else str(row[label])
        entry = known.get(int(value)) or ClassEntry(Value=int(value), Name=label_text)
        colour = list(class_color(entry))
        for channel, column in enumerate(("red", "green", "blue")):
            cell = row[names.index(column)] if column in names else None
            if cell is None:
                continue
            if not isinstance(cell, int | float) or not 0 <= cell <= 255:
                return None
            colour[channel] = int(cell)
        rows.append(ClassRow(int(value), label_text, (colour[0], colour[1], colour[2])))
    return rows


def _table_colours(table: AttributeTable | None) -> dict[int, tuple[int, int, int]] | None:
    """A colour map from a table's Value, Red, Green and Blue columns (ArcGIS shows a
    table's colours; GDAL readers want the colour map)."""
    names = [c.name.lower() for c in table.columns] if table is not None else []
    if table is None or not {"value", "red", "green", "blue"} <= set(names):
        return None
    at = [names.index(n) for n in ("value", "red", "green", "blue")]
    colours = {}
    for row in table.rows:
        try:
            value, red, green, blue = (int(row[i]) for i in at)
        except (TypeError, ValueError):
            return None
        if not 0 <= value <= 65535 or not all(0 <= c <= 255 for c in (red, green, blue)):
            return None
        colours[value] = (red, green, blue)
    return colours


def classified(rows: list[ClassRow], code: str | None, warnings: list[str]) -> OutputPlan:
    dtype, nodata = output_dtype([row.value for row in rows])
    return OutputPlan(code or CODES[dtype], dtype, 1, nodata, rows=rows, warnings=warnings)


def declared_layout(declared: OutputInfo, keys: KeyMetadata, name: str) -> OutputPlan:
    """The raster as the function declared it; without a noData of its own (declared or
    inherited), NaN for floats, else the type's far end (max unsigned, min signed)."""
    notes = list(declared.warnings)
    kind = np.dtype(declared.dtype)
    chosen = declared.nodata is None
    if declared.nodata is not None:
        nodata = declared.nodata[0]
        if len(set(declared.nodata)) > 1:
            notes.append(f"{name}: noData differs per band ({declared.nodata}); a GeoTIFF "
                         f"holds one, band 1's {nodata:g}, for all")  # fmt: skip
    elif kind.kind == "f":
        nodata = float("nan")
    else:
        limits = np.iinfo(kind)
        nodata = float(limits.max if kind.kind == "u" else limits.min)
    colormap = declared.colormap
    if colormap is None and declared.bands == 1 and declared.dtype in ("uint8", "uint16"):
        colormap = _table_colours(declared.table)
    if colormap is not None:  # a colour table has an entry per value the type holds
        top = np.iinfo(kind).max
        colormap = {v: c for v, c in colormap.items() if 0 <= v <= top}
    layout = RasterLayout(
        dtype=declared.dtype,
        count=declared.bands,
        nodata=nodata,
        colormap=colormap,
        table=declared.table,
        statistics=declared.statistics or [],
        histograms=list(declared.histograms or []),
        metadata=keys.dataset,
        band_metadata=keys.bands,
    )
    return OutputPlan(
        declared.code, declared.dtype, declared.bands, nodata, layout=layout,
        chosen_nodata=chosen, warnings=notes,
    )  # fmt: skip


def plan_output(
    function: RasterFunction, prepared: Prepared, opened: OpenedModel, dataset: Any, scale: Any
) -> OutputPlan:
    """Ask updateRasterInfo (and updateKeyMetadata) what the output is."""
    if not function.has("updateRasterInfo"):
        return classified(class_rows(opened.classes), None, [])
    config = prepared.config
    info = input_info(dataset, config.bands, scale is not None)
    start = output_start(info, config)
    extra = None
    if config.key_metadata:
        extra = {f"{prepared.raster}_keyMetadata": requested(dataset, config.key_metadata)}
    declared = update_raster_info(function, prepared.scalars, prepared.raster, info, start, extra)
    keys = key_metadata(function, dataset, config.bands, declared.bands, config.invalidate)
    if (
        declared.integer
        and declared.bands == 1
        and not declared.nodata_set
        and declared.statistics is None
        and declared.histograms is None
        and declared.colormap is None
        and not keys
    ):
        if declared.table is None:
            return classified(class_rows(opened.classes), declared.code, declared.warnings)
        rows = table_classes(declared.table, opened.emd.Classes or [])
        if rows is not None:
            return classified(rows, declared.code, declared.warnings)
    return declared_layout(declared, keys, function.name)


class OutputWriter:
    """One writer for either form: `write` takes [bands, rows, cols] values and validity."""

    def __init__(self, plan: OutputPlan, target: Path, like: Any, overwrite: bool) -> None:
        self.plan = plan
        self.target, self.like, self.overwrite = target, like, overwrite
        self.classified: ClassifiedRasterWriter | None = None
        self.declared: FunctionRasterWriter | None = None

    @contextlib.contextmanager
    def opened(self) -> Iterator[OutputWriter]:
        plan = self.plan
        if plan.rows is not None:
            with ClassifiedRasterWriter(
                self.target, self.like, plan.rows, self.overwrite
            ) as self.classified:
                yield self
        else:
            assert plan.layout is not None
            with FunctionRasterWriter(
                self.target, self.like, plan.layout, self.overwrite
            ) as self.declared:
                yield self

    def write(self, window: Window, values: NDArray[Any], valid: NDArray[np.bool_]) -> None:
        if self.classified is not None:
            nodata = self.classified.nodata
            self.classified.write(window, np.where(valid[0], values[0], nodata))
        elif self.declared is not None:
            self.declared.write(window, values, valid)

    @property
    def nodata_held(self) -> int:
        """Valid pixels holding the nodata value dlpk chose (0 when the function chose)."""
        if self.declared is None or not self.plan.chosen_nodata:
            return 0
        return self.declared.nodata_held
