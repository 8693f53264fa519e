"""classify-objects end to end: a TorchScript chip classifier, points and polygons, CRSs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.windows import Window

from dlpk.cli import main
from dlpk.runners.io.raster_source import open_source
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_objects import chip_for, classify_objects
from dlpk.runners.tasks.inference.object_chips import resize
from dlpk.runners.tasks.inference.object_labels import confidences
from dlpk.spec.emd import EsriModelDefinition
from tests.inference_models import emd, package, write_raster
from tests.inference_models import map_box as pixel_box
from tests.inference_models import map_point as at

torch = pytest.importorskip("torch")


class Brightness(torch.nn.Module):
    """Scores [m, -m] with m the chip's mean: bright chips are class 1, dark ones class 2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([m, -m], dim=1)


def classifier(tmp_path: Path, **extra: Any) -> Path:
    folder = tmp_path / "classifier"
    folder.mkdir()
    torch.jit.script(Brightness()).save(str(folder / "model.pt"))
    document = emd("model.pt", "TorchScript", "PixelClassifier", ImageHeight=16, ImageWidth=16)
    document.update(ModelConfiguration="ObjectClassifier", ModelType="ObjectClassification")
    document.update(extra)
    return package(folder, document)


def write_layer(path: Path, geometries: list[Any], names: list[str], crs: str) -> Path:
    pyogrio.raw.write(
        str(path),
        geometry=np.asarray(shapely.to_wkb(geometries), dtype=object),
        field_data=[np.asarray(names, dtype=object)],
        fields=["name"],
        driver="GPKG",
        geometry_type="Unknown",
        crs=crs,
    )
    return path


def halves(tmp_path: Path) -> Path:
    data = np.full((3, 60, 80), 10, dtype=np.uint8)
    data[:, :, :40] = 250
    return write_raster(tmp_path / "halves.tif", data)


def read(path: Path) -> dict[str, list[Any]]:
    meta, _, _, fields = pyogrio.raw.read(path)
    return {name: list(values) for name, values in zip(meta["fields"], fields, strict=True)}


def test_points_and_polygons_get_labels(tmp_path: Path) -> None:
    features = write_layer(
        tmp_path / "f.gpkg",
        [shapely.Point(at(30, 10)), pixel_box(20, 60, 30, 70), shapely.Point(at(-500, -500))],
        ["bright point", "dark box", "far away"],
        "EPSG:32633",
    )
    output = tmp_path / "out.gpkg"
    summary = classify_objects(
        classifier(tmp_path), halves(tmp_path), output, {}, "cpu", quiet, features=features
    )
    table = read(output)
    assert table["name"] == ["bright point", "dark box", "far away"]
    assert table["ClassLabel"] == ["Water", "Forest", None]
    assert table["ClassValue"][:2] == [1, 5] and np.isnan(table["ClassValue"][2])  # null
    assert 50 < table["Confidence"][0] <= 100 and np.isnan(table["Confidence"][2])
    own = {k: v for k, v in summary.counts.items() if k not in ("tiles", "pixels")}
    assert own == {"features": 3, "outside_area": 0, "labelled": 2}


def test_features_in_another_crs_are_reprojected(tmp_path: Path) -> None:
    to_wgs84 = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    points = [to_wgs84.transform(*at(30, 10)), to_wgs84.transform(*at(30, 70))]
    features = write_layer(
        tmp_path / "f.gpkg", [shapely.Point(p) for p in points], ["a", "b"], "EPSG:4326"
    )
    output = tmp_path / "out.geojson"
    argv = ["classify-objects", "--model", str(classifier(tmp_path)), "--raster"]
    argv += [str(halves(tmp_path)), "--features", str(features), "-o", str(output)]
    assert main(argv) == 0
    assert read(output)["ClassLabel"] == ["Water", "Forest"]
    written = json.loads(output.read_text())["features"][0]["geometry"]["coordinates"]
    assert written == pytest.approx(list(points[0]))  # the input geometry, in its own CRS


@pytest.mark.parametrize(("blacken", "label"), [(0, "Forest"), (1, "Water")])
def test_blacken_around_feature(tmp_path: Path, blacken: int, label: str) -> None:
    data = np.full((3, 40, 40), 10, dtype=np.uint8)
    data[:, 18:22, 18:22] = 250
    raster = write_raster(tmp_path / "spot.tif", data)
    features = write_layer(tmp_path / "f.gpkg", [pixel_box(18, 18, 22, 22)], ["spot"], "EPSG:32633")
    output = tmp_path / "out.gpkg"
    model = classifier(tmp_path, BlackenAroundFeature=blacken)
    classify_objects(model, raster, output, {}, "cpu", quiet, features=features)
    assert read(output)["ClassLabel"] == [label]


def bilinear(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """PyTorch's bilinear resize of a [C, H, W] array."""
    tensor = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]
    resized = torch.nn.functional.interpolate(
        tensor, size=(height, width), mode="bilinear", align_corners=False
    )
    return np.asarray(resized[0].numpy())


@pytest.mark.parametrize(
    ("feature", "window"),
    [
        # rows 10.3..19.6, cols 5.2..12.9: whole pixels 10..19 x 5..12
        (pixel_box(10.3, 5.2, 19.6, 12.9), Window(5, 10, 8, 10)),
        # 37 columns wide: capped at 16, centred on column 21.5 -> 13..28; rows 2..8
        (pixel_box(2.5, 3.0, 8.5, 40.0), Window(13, 2, 16, 7)),
        # a point: the one pixel holding it
        (shapely.Point(at(30.5, 7.25)), Window(7, 30, 1, 1)),
    ],
)
def test_bounding_box_chip_is_the_windowed_read_resized(
    tmp_path: Path, feature: Any, window: Window
) -> None:
    data = np.random.default_rng(5).random((1, 40, 50), dtype=np.float32) * 100
    raster = write_raster(tmp_path / "float.tif", data)
    definition = EsriModelDefinition.model_validate(
        emd("m.pt", "TorchScript", "PixelClassifier", ExtractBands=[0], CropSizeFixed=0)
    )
    with open_source(raster, definition) as source:
        chip, seen = chip_for(source, feature, 16, 16, blacken=False, fixed=False)
        fixed, _ = chip_for(source, feature, 16, 16, blacken=False, fixed=True)
    with rasterio.open(raster) as dataset:
        expected = bilinear(dataset.read(window=window), 16, 16)
    assert seen and chip.shape == (1, 16, 16)
    np.testing.assert_allclose(chip, expected, rtol=0, atol=1e-4)
    assert not np.allclose(fixed, chip)


@pytest.mark.parametrize(("shape", "size"), [((3, 7, 5), (16, 16)), ((2, 20, 9), (8, 12))])
def test_resize_is_pytorch_bilinear(shape: tuple[int, int, int], size: tuple[int, int]) -> None:
    pixels = np.random.default_rng(1).random(shape, dtype=np.float32)
    np.testing.assert_allclose(resize(pixels, *size), bilinear(pixels, *size), atol=1e-6)


@pytest.mark.parametrize(
    ("crop_size_fixed", "label"), [(None, "Forest"), (1, "Forest"), (0, "Water")]
)
def test_crop_size_fixed(tmp_path: Path, crop_size_fixed: int | None, label: str) -> None:
    data = np.full((3, 40, 40), 10, dtype=np.uint8)
    data[:, 18:22, 18:22] = 250  # a bright spot: alone in its bounding box, a speck in 16 x 16
    raster = write_raster(tmp_path / "spot.tif", data)
    features = write_layer(tmp_path / "f.gpkg", [pixel_box(18, 18, 22, 22)], ["spot"], "EPSG:32633")
    output = tmp_path / "out.gpkg"
    extra = {} if crop_size_fixed is None else {"CropSizeFixed": crop_size_fixed}
    summary = classify_objects(
        classifier(tmp_path, **extra), raster, output, {}, "cpu", quiet, features=features
    )
    assert read(output)["ClassLabel"] == [label]
    assert summary.arguments["CropSizeFixed"] == str(crop_size_fixed if crop_size_fixed == 0 else 1)


def test_confidences() -> None:
    probabilities = np.array([[0.2, 0.8], [1.0, 0.0]])
    assert confidences(probabilities) is probabilities
    logits = confidences(np.array([[0.0, np.log(3.0)]]))
    assert logits == pytest.approx(np.array([[0.25, 0.75]]))


def test_features_are_required_and_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, raster = classifier(tmp_path), halves(tmp_path)
    (tmp_path / "junk.gpkg").write_text("not a layer")
    argv = ["classify-objects", "--model", str(model), "--raster", str(raster)]
    argv += ["--features", str(tmp_path / "junk.gpkg"), "-o", str(tmp_path / "out.gpkg")]
    assert main(argv) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable feature layer" in err[0]
    assert not (tmp_path / "out.gpkg").exists()


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_fields_named_like_the_added_ones_in_any_case_are_replaced_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    """OGR field names ignore case: an input `classvalue` would clash with the added
    ClassValue. The output holds this run's labels; the user's other fields and the input stay."""
    features = tmp_path / f"f{suffix}"
    pyogrio.raw.write(
        str(features),
        geometry=np.asarray(shapely.to_wkb([pixel_box(10, 5, 30, 25)]), dtype=object),
        field_data=[np.asarray(["roof"], dtype=object), np.asarray([7], dtype=np.int32),
                    np.asarray(["old"], dtype=object)],
        fields=["name", "classvalue", "CLASSLABEL"],
        geometry_type="Polygon",
        crs="EPSG:32633",
    )  # fmt: skip
    before = features.read_bytes()
    output = tmp_path / f"out{suffix}"
    argv = ["classify-objects", "--model", str(classifier(tmp_path)), "--raster"]
    argv += [str(halves(tmp_path)), "--features", str(features), "-o", str(output)]
    assert main(argv) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    table = read(output)
    assert list(table) == ["name", "ClassLabel", "ClassValue", "Confidence"]
    assert table["name"] == ["roof"] and table["ClassLabel"] == ["Water"]
    assert table["ClassValue"] == [1]
    assert (
        f"dlpk: warning: f{suffix} already has field(s) classvalue, CLASSLABEL: the output "
        "holds this run's ClassLabel, ClassValue, Confidence instead (field names ignore "
        "case); the input is unchanged"
    ) in err.splitlines()
    assert features.read_bytes() == before


def test_16_bit_pixels_for_an_8_bit_imagenet_model_warn_here_too(tmp_path: Path) -> None:
    """classify-objects reads its chips through the same source as classify-pixels, so it says
    the same when a uint16 raster meets an 8-bit ImageNet-normalised model."""
    data = np.full((3, 60, 80), 1000, dtype=np.uint16)
    raster = write_raster(tmp_path / "wide.tif", data)
    features = write_layer(tmp_path / "f.gpkg", [shapely.Point(at(30, 10))], ["a"], "EPSG:32633")
    summary = classify_objects(
        classifier(tmp_path), raster, tmp_path / "out.gpkg", {}, "cpu", quiet, features=features
    )
    assert len([w for w in summary.warnings if "pixels are uint16" in w]) == 1


def test_a_layer_of_a_geopackage_with_several_is_chosen_by_name(tmp_path: Path) -> None:
    """classify-objects --features-layer: the layer asked for, by name; with several and none
    named, one line listing them."""
    features = tmp_path / "f.gpkg"
    for name, point in (("bright", at(30, 10)), ("dark", at(30, 70))):
        pyogrio.raw.write(
            str(features),
            geometry=np.asarray(shapely.to_wkb([shapely.Point(point)]), dtype=object),
            field_data=[np.asarray([name], dtype=object)],
            fields=["name"],
            driver="GPKG",
            geometry_type="Point",
            crs="EPSG:32633",
            layer=name,
            append=name == "dark",
        )
    model, raster = classifier(tmp_path), halves(tmp_path)
    out = tmp_path / "out.gpkg"
    argv = ["classify-objects", "--model", str(model), "--raster", str(raster)]
    argv += ["--features", str(features), "-o", str(out)]
    assert main(argv) == 3 and not out.exists()
    assert main([*argv, "--features-layer", "dark"]) == 0
    table = read(out)
    assert table["name"] == ["dark"] and table["ClassLabel"] == ["Forest"]
