"""The classified raster's attribute table and colour map, read back by GDAL itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from dlpk.runners.io.classified import ClassifiedRasterWriter, ClassRow
from dlpk.runners.io.windows import Window
from tests.gdal_rat import Column, read_attribute_table
from tests.inference_models import write_raster

COLUMNS = [
    Column("Value", "Integer", "MinMax"),
    Column("Class", "String", "Name"),
    Column("Red", "Integer", "Red"),
    Column("Green", "Integer", "Green"),
    Column("Blue", "Integer", "Blue"),
]
TRICKY = [
    ClassRow(1, " Water", (0, 0, 255)),  # leading space: GDAL's XML parser would drop it
    ClassRow(5, "Forêt & <Bois>", (0, 128, 0)),
    ClassRow(7, 'say "tree"', (10, 20, 30)),
]


def write_classified(folder: Path, rows: list[ClassRow]) -> Path:
    like = write_raster(folder / "like.tif", np.zeros((1, 6, 6), dtype=np.uint8))
    target = folder / "classes.tif"
    with rasterio.open(like) as dataset, ClassifiedRasterWriter(target, dataset, rows) as writer:
        values = np.resize([row.value for row in rows], (6, 6))
        writer.write(Window(0, 0, 6, 6), values)
    return target


@pytest.mark.parametrize(
    ("rows", "dtype"),
    [
        (TRICKY, "uint8"),
        ([ClassRow(300, "Roof", (200, 0, 0)), ClassRow(0, "", (1, 2, 3))], "uint16"),
        ([ClassRow(-3, "Below", (9, 9, 9)), ClassRow(70000, "Far", (250, 251, 252))], "int32"),
    ],
)
def test_gdal_reads_every_class_row(tmp_path: Path, rows: list[ClassRow], dtype: str) -> None:
    target = write_classified(tmp_path, rows)
    table = read_attribute_table(target)
    assert table is not None
    assert table.table_type == "thematic" and table.columns == COLUMNS
    assert table.rows == [[str(r.value), r.name, *(str(c) for c in r.color)] for r in rows]
    assert table.integers == [[r.value, *r.color] for r in rows]
    with rasterio.open(target) as dataset:
        assert dataset.dtypes[0] == dtype
        assert {int(v) for v in np.unique(dataset.read(1))} == {r.value for r in rows}
        if dtype == "int32":  # GeoTIFF holds colour tables for 8- and 16-bit bands only
            with pytest.raises(ValueError, match="color table"):
                dataset.colormap(1)
            return
        colours = dataset.colormap(1)
    for row in rows:
        assert colours[row.value] == (*row.color, 255)


def test_no_table_reads_as_none(tmp_path: Path) -> None:
    plain = write_raster(tmp_path / "plain.tif", np.zeros((1, 4, 4), dtype=np.uint8))
    assert read_attribute_table(plain) is None
