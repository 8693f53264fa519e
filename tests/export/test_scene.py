"""The scenario of record: an orthophoto-like scene with building footprints in a GeoPackage in
another CRS, exported in every format and read back as arcgis.learn would read it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import rasterio
import shapely
from rasterio.features import rasterize

from dlpk.runners.tasks.export_chips.export import export_chips
from dlpk.spec.job import ExportChipsParameters
from tests.esri_reader import load
from tests.rasters import TRANSFORM, write_features, write_raster

W, H = 480, 384
ROOF = 7  # roofs are the only pixels whose blue band equals this


def smooth_noise(rng: np.random.Generator, scale: int) -> npt.NDArray[np.float64]:
    """Random values on a coarse grid, blown up and box-blurred: soft fields like land cover."""
    coarse = rng.random((H // scale + 2, W // scale + 2))
    fine = np.kron(coarse, np.ones((scale, scale)))[:H, :W]
    kernel = np.ones(scale) / scale
    fine = np.apply_along_axis(lambda r: np.convolve(r, kernel, "same"), 1, fine)
    result: npt.NDArray[np.float64] = np.apply_along_axis(
        lambda c: np.convolve(c, kernel, "same"), 0, fine
    )
    return result


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[shapely.Geometry]]:
    tmp = tmp_path_factory.mktemp("scene")
    rng = np.random.default_rng(2024)
    bands = [
        40 + 150 * smooth_noise(rng, 32) + 20 * smooth_noise(rng, 8) + rng.normal(0, 4, (H, W))
        for _ in range(3)
    ]
    data = np.clip(np.stack(bands), 10, 250).astype(np.uint8)
    footprints_px: list[shapely.Geometry] = []
    for _ in range(40):
        cx, cy = rng.uniform(20, W - 20), rng.uniform(20, H - 20)
        w, h, angle = rng.uniform(8, 30), rng.uniform(8, 24), rng.uniform(0, 90)
        box = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        footprint = shapely.affinity.rotate(box, angle, origin="centroid")
        if any(footprint.intersects(f.buffer(2)) for f in footprints_px):
            continue
        footprints_px.append(footprint)
    roofs = rasterize([(f, 1) for f in footprints_px], out_shape=(H, W), fill=0, dtype="uint8")
    data[0][roofs == 1] = 180 + rng.integers(0, 40)  # red-brown roofs
    data[1][roofs == 1] = 90
    data[2][roofs == 1] = ROOF
    raster = write_raster(tmp / "ortho.tif", data)
    to_map = [TRANSFORM.a, TRANSFORM.b, TRANSFORM.d, TRANSFORM.e, TRANSFORM.c, TRANSFORM.f]
    footprints_map = [shapely.affinity.affine_transform(f, to_map) for f in footprints_px]
    labels = write_features(tmp / "buildings.gpkg", footprints_map, [1] * len(footprints_map))
    return raster, labels, footprints_px


@pytest.mark.parametrize(
    "fmt,chip_format,workers",
    [
        ("Classified_Tiles", "TIFF", 2),
        ("PASCAL_VOC_rectangles", "JPEG", 1),
        ("KITTI_rectangles", "PNG", 1),
        ("RCNN_Masks", "TIFF", 1),
        ("Labeled_Tiles", "TIFF", 1),
        ("MultiLabeled_Tiles", "TIFF", 1),
        ("Export_Tiles", "TIFF", 2),
    ],
)
def test_scene_exports_in_every_format(
    tmp_path: Path,
    scene: tuple[Path, Path, list[shapely.Geometry]],
    fmt: str,
    chip_format: str,
    workers: int,
) -> None:
    raster, labels, footprints = scene
    params = ExportChipsParameters(
        metadata_format=fmt,
        image_chip_format=chip_format,
        tile_size_x=128,
        stride_x=64,
        workers=workers,
        output_nofeature_tiles="ALL_TILES" if fmt == "Export_Tiles" else "ONLY_TILES_WITH_FEATURES",
    )
    out = tmp_path / fmt
    report = export_chips(raster, labels if fmt != "Export_Tiles" else None, out, params)
    loaded = load(out)
    assert len(loaded.samples) == report.counts["chips"] > 0
    assert loaded.chip_size == (128, 128)
    stats = json.loads((out / "esri_accumulated_stats.json").read_text())
    if fmt == "Export_Tiles":
        assert len(loaded.samples) == 35  # 7 x 5 windows of 128 at stride 64 over 480 x 384
        return
    assert stats["Classes"] == [{"ClassValue": 1, "ClassName": "1"}]
    if fmt == "Classified_Tiles":
        # the labels are the roofs: a building's pixels in the chip are exactly its label pixels
        for image, _ in loaded.samples:
            with rasterio.open(image) as c, rasterio.open(out / "labels" / image.name) as lab:
                roof, label = c.read(3) == ROOF, lab.read(1) == 1
            assert np.array_equal(roof, label), image.name
    if fmt == "Labeled_Tiles":
        touching = [f for f in footprints if f.intersects(shapely.box(0, 0, W, H))]
        assert len(loaded.samples) == len(touching)
    if fmt in ("PASCAL_VOC_rectangles", "KITTI_rectangles"):
        n = sum(len(lab) for _, lab in loaded.samples)
        assert n == stats["FeatureStats"]["NumFeaturesTotal"] >= len(footprints)
