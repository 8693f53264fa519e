"""GDAL category names in the classified raster's .aux.xml, beside its attribute table: what
QGIS 3.22 (which ignores attribute tables) shows, read back through GDAL itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from dlpk.runners.io.classified import ClassifiedRasterWriter, ClassRow, category_names
from dlpk.runners.io.windows import Window
from tests.gdal_rat import read_attribute_table, read_category_names
from tests.inference_models import write_raster


def write_classified(folder: Path, rows: list[ClassRow]) -> Path:
    like = write_raster(folder / "like.tif", np.zeros((1, 4, 4), dtype=np.uint8))
    target = folder / "classes.tif"
    with rasterio.open(like) as dataset, ClassifiedRasterWriter(target, dataset, rows) as writer:
        writer.write(Window(0, 0, 4, 4), np.resize([row.value for row in rows], (4, 4)))
    return target


def test_names_are_indexed_by_pixel_value(tmp_path: Path) -> None:
    rows = [ClassRow(3, " Water & <Sea>", (0, 0, 255)), ClassRow(1, "Forêt", (0, 128, 0))]
    target = write_classified(tmp_path, rows)
    assert read_category_names(target) == ["", "Forêt", "", " Water & <Sea>"]
    table = read_attribute_table(target)
    assert table is not None and [row[1] for row in table.rows] == [" Water & <Sea>", "Forêt"]


def test_a_background_row_goes_first_and_names_zero(tmp_path: Path) -> None:
    like = write_raster(tmp_path / "like.tif", np.zeros((1, 4, 4), dtype=np.uint8))
    target = tmp_path / "classes.tif"
    rows = [ClassRow(2, "Road", (9, 9, 9))]
    with rasterio.open(like) as dataset, ClassifiedRasterWriter(target, dataset, rows) as writer:
        writer.write(Window(0, 0, 4, 4), np.zeros((4, 4), dtype=np.int64))
        writer.add_first_row(ClassRow(0, "Background", (0, 0, 0)))
        writer.add_first_row(ClassRow(0, "Other", (1, 1, 1)))  # 0 has its row already
    assert read_category_names(target) == ["Background", "", "Road"]
    table = read_attribute_table(target)
    assert table is not None and [row[:2] for row in table.rows] == [
        ["0", "Background"],
        ["2", "Road"],
    ]
    with rasterio.open(target) as result:
        assert result.colormap(1)[0] == (0, 0, 0, 255)


def test_16_bit_values_get_names_and_32_bit_ones_only_the_table(tmp_path: Path) -> None:
    wide = [ClassRow(300, "Roof", (200, 0, 0))]
    names = category_names(wide)
    assert names is not None and len(names) == 301 and names[300] == "Roof"
    assert set(names[:300]) == {""}
    for rows in ([ClassRow(-3, "Below", (9, 9, 9))], [ClassRow(70000, "Far", (1, 2, 3))]):
        assert category_names(rows) is None
        folder = tmp_path / str(rows[0].value)
        folder.mkdir()
        target = write_classified(folder, rows)
        assert read_category_names(target) == []
        assert read_attribute_table(target) is not None
