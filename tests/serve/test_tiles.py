"""Web Mercator tiles of a job's rasters: classes in their colours from the classified raster's
colour map and attribute table, imagery stretched, transparent outside and at nodata; the
legend as GDAL reads the table; overviews, rewrites and threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin

from dlpk.runners.io.classified import ClassifiedRasterWriter, ClassRow
from dlpk.runners.io.windows import Window
from dlpk.serve.page.datasets import DatasetCache
from dlpk.serve.page.grid import ORIGIN, OVERZOOM, TILE_SIZE, tile_bounds
from dlpk.serve.page.raster_layers import LayerUnavailable
from dlpk.serve.page.state import PageState
from dlpk.serve.page.tiles import EMPTY_TILE, overview_level
from tests.gdal_rat import read_attribute_table
from tests.rasters import write_raster
from tests.serve.page_data import (
    COLS,
    CRS,
    FOREST,
    NODATA_ROWS,
    ROWS,
    TRANSFORM,
    WATER,
    Grid,
    class_values,
    decode_png,
    lonlat_of_pixel,
    tile_pixel,
    write_classified,
    write_imagery,
)

BLUE = [0, 0, 255, 255]
GREEN = [0, 128, 0, 255]


@pytest.fixture
def state() -> PageState:
    return PageState()


def pixel(state: PageState, path: Path, row: float, col: float, z: int) -> list[int]:
    """The RGBA the tile of zoom `z` draws at raster pixel (row, col)."""
    info = state.rasters.describe(path)
    x, y, column, line = tile_pixel(*lonlat_of_pixel(row, col), z)
    return [int(v) for v in decode_png(state.tiles.tile(info, z, x, y))[:, line, column]]


def test_classes_are_drawn_in_their_colours_and_nodata_is_transparent(
    tmp_path: Path, state: PageState
) -> None:
    classified = write_classified(tmp_path / "classes.tif")
    z = state.rasters.describe(classified).maxzoom - OVERZOOM
    assert pixel(state, classified, 5.5, 5.5, z) == BLUE  # left half: Water
    assert pixel(state, classified, 5.5, COLS - 5.5, z) == GREEN  # right half: Forest
    assert pixel(state, classified, ROWS - NODATA_ROWS / 2, 20.5, z)[3] == 0  # nodata
    assert pixel(state, classified, 5.5, COLS + 30, z)[3] == 0  # east of the raster


def test_a_tile_away_from_the_raster_is_empty(tmp_path: Path, state: PageState) -> None:
    info = state.rasters.describe(write_classified(tmp_path / "classes.tif"))
    assert state.tiles.tile(info, 5, 0, 0) == EMPTY_TILE
    assert not decode_png(EMPTY_TILE)[3].any()


def test_imagery_is_stretched_between_percentiles(tmp_path: Path, state: PageState) -> None:
    imagery = write_imagery(tmp_path / "scene.tif")
    info = state.rasters.describe(imagery)
    assert info.kind == "imagery" and info.bands == (1, 2, 3) and info.legend_json() is None
    low, high = info.stretch[0]
    assert 1000 < low < 1050 and 1950 < high < 2000  # red ramps 1000..2000: 2 % and 98 %
    z = info.maxzoom - OVERZOOM
    west, east = pixel(state, imagery, 30.5, 0.5, z), pixel(state, imagery, 30.5, COLS - 0.5, z)
    assert west[0] < 10 and east[0] > 245 and west[3] == east[3] == 255
    assert west[1] == east[1] == 127  # a flat band is drawn mid-grey, not black


def test_imagery_nodata_is_transparent(tmp_path: Path, state: PageState) -> None:
    data = np.full((3, ROWS, COLS), 200, np.uint8)
    data[:, :, :20] = 0
    imagery = write_raster(tmp_path / "scene.tif", data, TRANSFORM, "EPSG:32633", nodata=0)
    z = state.rasters.describe(imagery).maxzoom - OVERZOOM
    assert pixel(state, imagery, 30.5, 10.5, z)[3] == 0
    assert pixel(state, imagery, 30.5, 50.5, z)[3] == 255


@pytest.mark.parametrize("how", ["alpha band", "mask band"])
def test_imagery_masked_by_alpha_or_mask_is_transparent_there(
    tmp_path: Path, state: PageState, how: str
) -> None:
    rgb = np.full((3, ROWS, COLS), 200, np.uint8)
    shown = np.full((ROWS, COLS), 255, np.uint8)
    shown[:, :20] = 0
    if how == "alpha band":
        imagery = write_raster(
            tmp_path / "scene.tif", np.concatenate([rgb, shown[None]]), TRANSFORM, CRS
        )
        with rasterio.open(imagery, "r+") as raster:
            raster.colorinterp = [
                ColorInterp.red,
                ColorInterp.green,
                ColorInterp.blue,
                ColorInterp.alpha,
            ]
    else:
        imagery = write_raster(tmp_path / "scene.tif", rgb, TRANSFORM, CRS)
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(imagery, "r+") as raster:
            raster.write_mask(shown)
    info = state.rasters.describe(imagery)
    assert info.bands == (1, 2, 3)
    z = info.maxzoom - OVERZOOM
    assert pixel(state, imagery, 30.5, 10.5, z)[3] == 0
    assert pixel(state, imagery, 30.5, 50.5, z) == [127, 127, 127, 255]
    assert pixel(state, imagery, 30.5, COLS + 20, z)[3] == 0


def test_legend_is_the_attribute_table_as_gdal_reads_it(tmp_path: Path, state: PageState) -> None:
    classified = write_classified(tmp_path / "classes.tif")
    legend = state.rasters.describe(classified).legend_json()
    table = read_attribute_table(classified)
    assert table is not None
    by_gdal = [
        {"value": int(row[0]), "name": row[1], "color": [int(c) for c in row[2:5]]}
        for row in table.rows
    ]
    assert legend == by_gdal
    assert [entry["name"] for entry in legend or []] == [WATER.name, FOREST.name]


def test_a_table_with_colours_from_0_to_1_and_other_column_names(
    tmp_path: Path, state: PageState
) -> None:
    """A table as other programs write them: MinMax and Name by usage under other names, and
    colours as reals from 0 to 1 (which GDAL allows); read as GDAL reads it."""
    classified = write_classified(tmp_path / "classes.tif")
    fields = [("Code", 0, 5), ("Label", 2, 2), ("R", 1, 6), ("G", 1, 7), ("B", 1, 8)]
    rows = [("1", "Lake", "0", "0", "1"), ("5", "Wood", "0", "0.5", "0")]
    definitions = "".join(
        f'<FieldDefn index="{i}"><Name>{name}</Name><Type>{kind}</Type><Usage>{usage}</Usage>'
        "</FieldDefn>"
        for i, (name, kind, usage) in enumerate(fields)
    )
    cells = "".join(
        f'<Row index="{i}">{"".join(f"<F>{cell}</F>" for cell in row)}</Row>'
        for i, row in enumerate(rows)
    )
    classified.with_name("classes.tif.aux.xml").write_text(
        '<PAMDataset><PAMRasterBand band="1"><GDALRasterAttributeTable tableType="thematic">'
        f"{definitions}{cells}</GDALRasterAttributeTable></PAMRasterBand></PAMDataset>"
    )
    table = read_attribute_table(classified)
    assert table is not None and [c.usage for c in table.columns][:2] == ["MinMax", "Name"]
    legend = state.rasters.describe(classified).legend_json()
    assert legend == [
        {"value": 1, "name": "Lake", "color": [0, 0, 255]},
        {"value": 5, "name": "Wood", "color": [0, 128, 0]},
    ]


def test_without_the_table_the_colour_map_gives_the_classes(
    tmp_path: Path, state: PageState
) -> None:
    classified = write_classified(tmp_path / "classes.tif")
    classified.with_name("classes.tif.aux.xml").unlink()
    info = state.rasters.describe(classified)
    assert info.kind == "classes"
    # GDAL fills the colour map's gaps with opaque black: those are no class
    assert sorted(info.colours) == [WATER.value, FOREST.value]
    z = info.maxzoom - OVERZOOM
    assert pixel(state, classified, 5.5, 5.5, z) == BLUE


def test_classes_of_a_32_bit_raster_take_their_colours_from_the_table(
    tmp_path: Path, state: PageState
) -> None:
    rows = [ClassRow(-3, "Cloud", (250, 250, 250)), ClassRow(70000, "Road", (200, 0, 0))]
    values = np.full((ROWS, COLS), 70000, np.int32)
    values[:, : COLS // 2] = -3
    grid = Grid(COLS, ROWS, "EPSG:32633", TRANSFORM)
    path = tmp_path / "wide.tif"
    with ClassifiedRasterWriter(path, grid, rows) as writer:  # int32: no colour map at all
        writer.write(Window(0, 0, ROWS, COLS), values)
    info = state.rasters.describe(path)
    assert info.kind == "classes" and [e["value"] for e in info.legend_json() or []] == [-3, 70000]
    z = info.maxzoom - OVERZOOM
    assert pixel(state, path, 5.5, 5.5, z) == [250, 250, 250, 255]
    assert pixel(state, path, 5.5, COLS - 5.5, z) == [200, 0, 0, 255]


def test_zooms_run_from_one_tile_to_past_the_pixels(tmp_path: Path, state: PageState) -> None:
    info = state.rasters.describe(write_classified(tmp_path / "classes.tif"))
    west, south, east, north = info.mercator
    pixel_size = (east - west) / COLS
    native = info.maxzoom - OVERZOOM
    tile_pixel_size = 2 * ORIGIN / TILE_SIZE / 2**native
    assert tile_pixel_size <= pixel_size < 2 * tile_pixel_size
    assert 2 * ORIGIN / 2**info.minzoom >= max(east - west, north - south)


def test_zoomed_out_tiles_read_overviews_and_keep_exact_classes(
    tmp_path: Path, state: PageState
) -> None:
    size = 2048
    values = np.full((size, size), FOREST.value, np.uint8)
    values[:, : size // 2] = WATER.value
    fine = from_origin(510_000.0, 5_000_000.0, 1.0, 1.0)
    path = write_classified(tmp_path / "large.tif", values, fine)
    info = state.rasters.describe(path)
    assert info.overviews  # the COG writer adds them
    lon, lat = lonlat_of_pixel(size / 2, size / 2, fine)
    x, y, _, _ = tile_pixel(lon, lat, info.minzoom)
    assert overview_level(info, tile_bounds(info.minzoom, x, y)) is not None
    rgba = decode_png(state.tiles.tile(info, info.minzoom, x, y))
    drawn = {
        tuple(int(v) for v in rgba[:, r, c]) for r, c in zip(*np.nonzero(rgba[3]), strict=True)
    }
    assert drawn == {tuple(BLUE), tuple(GREEN)}  # nearest neighbour: no blend of two classes
    # and no hole where a blend would have made a value that is no class
    west, _, east, north = tile_bounds(info.minzoom, x, y)
    scale = TILE_SIZE / (east - west)
    left, bottom, right, top = info.mercator

    def inside(low: float, high: float) -> slice:
        return slice(max(0, int(low * scale) + 2), min(TILE_SIZE, int(high * scale) - 2))

    cols, rows = inside(left - west, right - west), inside(north - top, north - bottom)
    assert rgba[3, rows, cols].size > 100 and rgba[3, rows, cols].all()


def test_a_rewritten_raster_is_drawn_anew(tmp_path: Path, state: PageState) -> None:
    path = write_classified(tmp_path / "classes.tif")
    z = state.rasters.describe(path).maxzoom - OVERZOOM
    assert pixel(state, path, 5.5, 5.5, z) == BLUE
    values = np.full((ROWS, COLS + 1), FOREST.value, np.uint8)  # another size: another key
    path.unlink()
    write_classified(path, values)
    assert pixel(state, path, 5.5, 5.5, z) == GREEN


def test_a_raster_without_crs_is_not_drawn(tmp_path: Path, state: PageState) -> None:
    path = write_raster(tmp_path / "plain.tif", np.zeros((1, 8, 8), np.uint8), None, None)
    with pytest.raises(LayerUnavailable, match="no coordinate reference system"):
        state.rasters.describe(path)
    with pytest.raises(LayerUnavailable, match="not a single raster"):
        state.rasters.describe(tmp_path)


def test_tiles_rendered_in_threads_equal_tiles_rendered_one_by_one(tmp_path: Path) -> None:
    classified = write_classified(tmp_path / "classes.tif", class_values())
    imagery = write_imagery(tmp_path / "scene.tif")
    # one open dataset at most: threads keep closing each other's and opening them again
    serial, threaded = PageState(), PageState(datasets=DatasetCache(capacity=1))
    requests = []
    for path in (classified, imagery):
        info = serial.rasters.describe(path)
        for z in range(info.minzoom, info.maxzoom + 1):
            x, y, _, _ = tile_pixel(*lonlat_of_pixel(ROWS / 2, COLS / 2), z)
            requests += [(path, z, x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]

    def draw(state: PageState, request: tuple[Path, int, int, int]) -> bytes:
        path, z, x, y = request
        return state.tiles.tile(state.rasters.describe(path), z, x, y)

    expected = [draw(serial, request) for request in requests]
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda request: draw(threaded, request), requests))
    assert found == expected
    assert sum(tile != EMPTY_TILE for tile in expected) > len(requests) // 4
