"""updateRasterInfo as ArcGIS calls it, and the raster a function declares written as declared
(docs/esri-formats.md#methods: output_info's pixelType, bandCount, noData, statistics, histogram,
colormap, rasterAttributeTable)."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from dlpk.errors import ModelError
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.runners.tasks.report import TaskReport
from tests.gdal_rat import Column, gdal_library, read_attribute_table
from tests.inference_models import write_raster
from tests.raster_functions import DECLARED_PRF, declared_expected, function_package

NODATA = 65535
LEFT, TOP = 500000.0, 4000000.0
EXTENT = [LEFT, TOP - 370.0, LEFT + 500.0, TOP]  # 50 x 37 px of 10 m
#: A class table as arcgis.learn's functions write it (a feature set, OID first).
TABLE = {
    "fields": [
        {"name": "OID", "type": "esriFieldTypeOID"},
        {"name": "Value", "type": "esriFieldTypeInteger"},
        {"name": "Class", "type": "esriFieldTypeString"},
        {"name": "Red", "type": "esriFieldTypeInteger"},
        {"name": "Green", "type": "esriFieldTypeInteger"},
        {"name": "Blue", "type": "esriFieldTypeInteger"},
    ],
    "features": [
        {"attributes": {"OID": 1, "Value": 1, "Class": "Wet", "Red": 1, "Green": 2, "Blue": 3}},
        {"attributes": {"OID": 2, "Value": 5, "Class": "Dry", "Red": 4, "Green": 5, "Blue": 6}},
    ],
}
CLASS_COLUMNS = [
    Column("Value", "Integer", "MinMax"),
    Column("Class", "String", "Name"),
    Column("Red", "Integer", "Red"),
    Column("Green", "Integer", "Green"),
    Column("Blue", "Integer", "Blue"),
]


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """3 bands of uint16, 37 x 50 px (blocks of 12 x 16 do not divide it), a nodata corner,
    and stored statistics on every band (which the output must not inherit)."""
    data = np.random.default_rng(5).integers(0, 200, (3, 37, 50), dtype=np.uint16)
    data[:, 30:, 40:] = NODATA
    path = write_raster(tmp_path / "scene.tif", data, nodata=NODATA)
    with rasterio.open(path, "r+") as dataset:
        for band in (1, 2, 3):
            dataset.update_tags(
                band,
                STATISTICS_MINIMUM="0",
                STATISTICS_MAXIMUM="199",
                STATISTICS_MEAN="99.5",
                STATISTICS_STDDEV="57.7",
            )
    return path, data


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return function_package(tmp_path / "Declared", "Declared", DECLARED_PRF, "ImageClassification")


def run(model: Path, raster: Path, output: Path, **arguments: Any) -> TaskReport:
    """classify-pixels with the Declared function; dicts and lists go as JSON text."""
    given = {k: v if isinstance(v, str) else json.dumps(v) for k, v in arguments.items()}
    return classify_pixels(model, raster, output, given, "cpu", quiet, trust_code=True)


def array(values: list[float]) -> dict[str, Any]:
    """How the Declared function records an ndarray of float64."""
    return {"ndarray": values, "dtype": "float64"}


def test_update_raster_info_gets_scalars_raster_info_and_output_info(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    record = tmp_path / "seen.json"
    run(model, scene[0], tmp_path / "out.tif", record=str(record), declare={"pixelType": "f4"})
    seen = json.loads(record.read_text())
    called = ["initialize", "getConfiguration", "updateRasterInfo", "updatePixels"]
    assert seen["order"][:4] == called
    kwargs = seen["updateRasterInfo"][0]["kwargs"]
    stored = {"minimum": 0.0, "maximum": 199.0, "mean": 99.5, "standardDeviation": 57.7}
    raster_info = {
        "bandCount": 2,  # extractBands (0, 1): the input as updatePixels sees it
        "pixelType": "u2",
        "noData": array([NODATA, NODATA]),
        "cellSize": [10.0, 10.0],
        "extent": EXTENT,
        "nativeExtent": EXTENT,
        "spatialReference": 32633,
        "nativeSpatialReference": 32633,
        "statistics": [stored, stored],
        "histogram": [],
        "colormap": [],
        "rasterAttributeTable": [],
    }
    assert kwargs["raster_info"] == raster_info
    # invalidateProperties 2 | 4 drops statistics and histogram; inheritProperties 2 keeps noData
    assert kwargs["output_info"] == raster_info | {"statistics": []}
    # the scalars, as getConfiguration had them: strings
    assert kwargs["declare"] == '{"pixelType": "f4"}' and kwargs["compute"] == "scale"
    assert kwargs["model"].endswith("model.emd") and kwargs["device"] == "-1"


def test_output_info_without_inherited_nodata_or_invalidation(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    record = tmp_path / "seen.json"
    config = {"inheritProperties": 1 | 4 | 8, "invalidateProperties": 0, "dataRange": [0, 1]}
    run(model, scene[0], tmp_path / "out.tif", record=str(record), config=config)
    kwargs = json.loads(record.read_text())["updateRasterInfo"][0]["kwargs"]
    assert kwargs["raster_info"]["pixelType"] == "f4"  # dataRange hands float32 pixels
    assert kwargs["output_info"]["noData"] is None
    assert kwargs["output_info"]["statistics"] == kwargs["raster_info"]["statistics"] != []


def test_probabilities_are_written_as_declared(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    raster, data = scene
    output, record = tmp_path / "probabilities.tif", tmp_path / "seen.json"
    declare = {
        "pixelType": "f4",
        "bandCount": 2,
        "noData": -1,
        "statistics": [{"minimum": 0, "maximum": 2}, {"minimum": 0, "maximum": 4}],
    }
    summary = run(model, raster, output, declare=declare, record=str(record))
    valid = data[0] != NODATA
    expected = declared_expected(data[0], 2, "float32")
    with rasterio.open(output) as result:
        assert result.dtypes == ("float32", "float32") and result.nodata == -1
        assert result.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        got = result.read()
        first, second = result.tags(1), result.tags(2)
    assert np.array_equal(got[:, valid], expected[:, valid])  # no clipping to class Values
    assert got.max() > 3.9 and np.all(got[:, ~valid] == -1)
    assert summary.counts["nodata_pixels"] == int((~valid).sum())
    # the declared range, with the mean and deviation of the written pixels
    assert (first["STATISTICS_MINIMUM"], first["STATISTICS_MAXIMUM"]) == ("0", "2")
    assert second["STATISTICS_MAXIMUM"] == "4"
    written = expected[0][valid].astype(np.float64)
    assert float(first["STATISTICS_MEAN"]) == pytest.approx(written.mean(), rel=1e-12)
    assert float(first["STATISTICS_STDDEV"]) == pytest.approx(written.std(), rel=1e-9)
    assert read_attribute_table(output) is None
    # updatePixels' arguments: the core's top-left corner, (bands, ty, tx), ArcGIS's props
    calls = json.loads(record.read_text())["updatePixels"]
    assert len(calls) == 16 and calls[1]["tlc"] == [LEFT + 160.0, TOP]
    assert calls[0]["tlc"] == [LEFT, TOP] and calls[0]["shape"] == [2, 12, 16]
    assert calls[0]["keys"] == ["raster_mask", "raster_pixels"]
    assert calls[0]["props"] == {
        "extent": EXTENT,
        "pixelType": "f4",
        "spatialReference": 32633,
        "cellSize": [10.0, 10.0],
        "width": 50,
        "height": 37,
        "noData": array([-1.0, -1.0]),
    }


def test_statistics_are_computed_when_the_function_gives_none(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    """The input's stored statistics (min 0, max 199) describe other pixels: not inherited."""
    raster, data = scene
    output = tmp_path / "scaled.tif"
    run(model, raster, output, declare={"pixelType": "f8", "bandCount": 1})
    valid = data[0] != NODATA
    written = declared_expected(data[0], 1, "float64")[0][valid]
    with rasterio.open(output) as result:
        assert result.dtypes == ("float64",) and result.nodata == NODATA  # inherited
        tags = result.tags(1)
    assert float(tags["STATISTICS_MAXIMUM"]) == written.max() != 199
    assert float(tags["STATISTICS_MEAN"]) == pytest.approx(written.mean(), rel=1e-12)
    assert float(tags["STATISTICS_VALID_PERCENT"]) == pytest.approx(100 * valid.mean())


@pytest.mark.parametrize(
    "declare", [{"pixelType": "i4", "bandCount": 1}, {"pixelType": "u2", "bandCount": 1}]
)
def test_class_values_stay_the_classified_raster(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray], declare: dict[str, Any]
) -> None:
    raster, data = scene
    output, record = tmp_path / "classes.tif", tmp_path / "seen.json"
    run(model, raster, output, declare=declare, compute="classes", record=str(record))
    valid = data[0] != NODATA
    with rasterio.open(output) as result:
        assert result.dtypes == ("uint8",) and result.nodata == 255  # Values 1 and 5
        got = result.read(1)
        assert result.colormap(1)[5] == (0, 128, 0, 255)
    assert np.array_equal(got[valid], np.where(data[0][valid] > 100, 5, 1))
    assert np.all(got[~valid] == 255)
    table = read_attribute_table(output)
    assert table is not None and table.columns == CLASS_COLUMNS
    assert table.rows == [["1", "Water", "0", "0", "255"], ["5", "Forest", "0", "128", "0"]]
    props = json.loads(record.read_text())["updatePixels"][0]["props"]
    assert props["pixelType"] == declare["pixelType"] and props["noData"]["ndarray"] == [255]


def test_the_functions_class_table_replaces_the_classes(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    output = tmp_path / "classes.tif"
    declare = {"pixelType": "i4", "bandCount": 1, "rasterAttributeTable": json.dumps(TABLE)}
    run(model, scene[0], output, declare=declare, compute="classes")
    table = read_attribute_table(output)
    assert table is not None and table.columns == CLASS_COLUMNS  # OID dropped
    assert table.rows == [["1", "Wet", "1", "2", "3"], ["5", "Dry", "4", "5", "6"]]
    with rasterio.open(output) as result:
        assert result.dtypes == ("uint8",) and result.colormap(1)[5] == (4, 5, 6, 255)


def test_probabilities_keep_the_functions_table(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    """arcgis.learn's probability raster: f4, one band, still the class table."""
    output = tmp_path / "probability.tif"
    declare = {"pixelType": "f4", "bandCount": 1, "rasterAttributeTable": TABLE}
    run(model, scene[0], output, declare=declare)
    table = read_attribute_table(output)
    assert table is not None and table.table_type == "thematic"
    assert table.columns == CLASS_COLUMNS and table.integers == [[1, 1, 2, 3], [5, 4, 5, 6]]
    with rasterio.open(output) as result:
        assert result.dtypes == ("float32",)


def test_a_table_with_more_columns_is_written_whole(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    raster, data = scene
    table = json.loads(json.dumps(TABLE))
    table["fields"].append({"name": "Area", "type": "esriFieldTypeDouble"})
    for feature, area in zip(table["features"], (0.5, 2.25), strict=True):
        feature["attributes"]["Area"] = area
    output = tmp_path / "classes.tif"
    declare = {"pixelType": "u1", "bandCount": 1, "noData": 0, "rasterAttributeTable": table}
    run(model, raster, output, declare=declare, compute="classes")
    found = read_attribute_table(output)
    assert found is not None
    assert found.columns == [*CLASS_COLUMNS, Column("Area", "Real", "Generic")]
    assert [row[-1] for row in found.rows] == ["0.5", "2.25"]
    with rasterio.open(output) as result:
        assert result.dtypes == ("uint8",) and result.nodata == 0  # as declared
        assert result.colormap(1)[1] == (1, 2, 3, 255)  # from the table's colours
        got = result.read(1)
    valid = data[0] != NODATA
    assert np.all(got[~valid] == 0) and set(np.unique(got[valid])) == {1, 5}


def default_histogram(path: Path, band: int = 1) -> tuple[float, float, list[int]] | None:
    """Band `band`'s stored histogram as GDAL reads it (never computed: bForce 0)."""
    gdal = gdal_library()
    gdal.GDALAllRegister()
    counts_type = ctypes.POINTER(ctypes.c_ulonglong)
    histogram = gdal.GDALGetDefaultHistogramEx
    histogram.restype = ctypes.c_int
    histogram.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(counts_type),
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    gdal.VSIFree.argtypes, gdal.VSIFree.restype = [ctypes.c_void_p], None
    dataset = gdal.GDALOpen(str(path).encode(), 0)
    try:
        low, high, buckets = ctypes.c_double(), ctypes.c_double(), ctypes.c_int()
        counts = counts_type()
        handle = gdal.GDALGetRasterBand(dataset, band)
        found = histogram(handle, low, high, buckets, counts, 0, None, None)
        if found != 0:  # CE_None
            return None
        values = [int(counts[i]) for i in range(buckets.value)]
        gdal.VSIFree(ctypes.cast(counts, ctypes.c_void_p))
        return low.value, high.value, values
    finally:
        gdal.GDALClose(dataset)


def test_histogram_and_colour_map_are_the_functions(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    counts = [0] * 256
    counts[1], counts[5] = 1000, 600
    declare = {
        "pixelType": "u1",
        "bandCount": 1,
        "colormap": [[1, 5], [10, 20], [30, 40], [50, 60]],  # values, red, green, blue
        "histogram": [{"minimum": -0.5, "maximum": 255.5, "counts": counts}],
    }
    output = tmp_path / "classes.tif"
    run(model, scene[0], output, declare=declare, compute="classes")
    assert default_histogram(output) == (-0.5, 255.5, counts)
    with rasterio.open(output) as result:
        assert result.colormap(1)[5] == (20, 40, 60, 255)
        assert result.colormap(1)[1] == (10, 30, 50, 255)
    # bare counts take the range of the band's statistics
    stats = [{"minimum": 0, "maximum": 2}]
    bare = {"pixelType": "f4", "bandCount": 1, "statistics": stats, "histogram": [[3, 4]]}
    other = tmp_path / "other.tif"
    run(model, scene[0], other, declare=bare)
    assert default_histogram(other) == (0.0, 2.0, [3, 4])


def test_integer_values_beyond_the_declared_type_are_refused(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    output = tmp_path / "out.tif"
    declare = {"pixelType": "t1", "bandCount": 2}  # 1 bit: 0 or 1
    with pytest.raises(ModelError) as caught:
        run(model, scene[0], output, declare=declare, compute="raw", config={"ty": 37, "tx": 50})
    message = str(caught.value)
    assert message.startswith("Declared.py: updatePixels() gave values 0.0..3.98")
    assert "the output is t1, as updateRasterInfo declared it" in message
    assert not output.exists() and list(tmp_path.glob(".out*")) == []


@pytest.mark.parametrize(
    ("declare", "compute", "expected"),
    [
        ({"_return": "none"}, "scale", "updateRasterInfo() must return its kwargs with output"),
        ({"pixelType": "x9"}, "scale", "updateRasterInfo() gave pixelType 'x9'"),
        ({"cellSize": [20.0, 20.0]}, "scale", "changed the output's cellSize"),
        ({"bandCount": 0}, "scale", "updateRasterInfo() gave bandCount 0"),
        ({"pixelType": "u1", "noData": 300}, "scale", "noData 300, which a uint8 raster"),
        ({"bandCount": 2, "pixelType": "f4"}, "classes", "output_pixels of 1 band(s); the out"),
        ({"statistics": ["low"], "pixelType": "f4"}, "scale", "statistics must be one dict"),
        ({"rasterAttributeTable": "{not json", "pixelType": "f4"}, "scale", "not a feature set"),
    ],
)
def test_bad_answers_are_one_line_naming_the_function(
    tmp_path: Path,
    model: Path,
    scene: tuple[Path, np.ndarray],
    declare: dict[str, Any],
    compute: str,
    expected: str,
) -> None:
    output = tmp_path / "out.tif"
    with pytest.raises(ModelError) as caught:
        run(model, scene[0], output, declare=declare, compute=compute)
    text = str(caught.value)
    assert text.startswith("Declared.py: ") and expected in text and "\n" not in text
    assert not output.exists() and list(tmp_path.glob(".out*")) == []


def test_an_existing_output_is_kept_without_overwrite(
    tmp_path: Path, model: Path, scene: tuple[Path, np.ndarray]
) -> None:
    output = tmp_path / "out.tif"
    output.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        run(model, scene[0], output, declare={"pixelType": "f4"})
    assert output.read_bytes() == b"mine"
    given = {"declare": '{"pixelType": "f4"}'}
    classify_pixels(model, scene[0], output, given, "cpu", quiet, overwrite=True, trust_code=True)
    with rasterio.open(output) as result:
        assert result.dtypes == ("float32", "float32")  # the input's (extracted) band count
