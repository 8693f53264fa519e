"""The page's routes over HTTP on loopback (uvicorn): the page and its bundle, the tool dialogs
(checked against the tasks the REST API takes), a job's layers, tiles and GeoJSON; and the
committed bundle against a fresh build from package-lock.json."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import httpx
import numpy as np
import pytest
from pyproj import Transformer

from dlpk.serve.tasks import TASKS, parse_submission
from dlpk.serve.views import JobView, ModelView
from dlpk.spec.choices import MetadataFormat
from tests.rasters import write_raster
from tests.serve.page_data import (
    COLS,
    CRS,
    FOREST,
    ROWS,
    TRANSFORM,
    WATER,
    MemoryStore,
    decode_png,
    lonlat_of_pixel,
    page_app,
    serving,
    tile_pixel,
    write_classified,
    write_detections,
    write_imagery,
)

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "dlpk" / "serve" / "page" / "static"
MODEL_CLASSES = [
    {"value": 1, "name": "Water", "color": [0, 0, 255]},
    {"value": 5, "name": "Forest", "color": [0, 128, 0]},
]


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    """A classify-pixels job, a detect-objects job and a job whose outputs cannot be drawn."""
    found = MemoryStore()
    found.models["m1"] = ModelView(
        "m1", "landcover", 1, "0" * 64, tmp_path / "m.dlpk", {"classes": MODEL_CLASSES}
    )
    scene = write_imagery(tmp_path / "scene.tif")
    found.jobs["pixels"] = JobView(
        "pixels",
        "ClassifyPixelsUsingDeepLearning",
        "esriJobSucceeded",
        "m1",
        tmp_path,
        rasters={
            "inputRaster": scene,
            "outputClassifiedRaster": write_classified(tmp_path / "classified.tif"),
        },
    )
    found.jobs["objects"] = JobView(
        "objects",
        "DetectObjectsUsingDeepLearning",
        "esriJobSucceeded",
        "m1",
        tmp_path,
        rasters={"inputRaster": scene},
        features={"outputObjects": write_detections(tmp_path / "detections.gpkg")},
    )
    plain = write_raster(tmp_path / "plain.tif", np.zeros((1, 4, 4), np.uint8), None, None)
    found.jobs["odd"] = JobView(
        "odd",
        "ClassifyPixelsUsingDeepLearning",
        "esriJobSucceeded",
        "",
        tmp_path,
        rasters={"inputRaster": plain, "outputClassifiedRaster": tmp_path / "missing.tif"},
    )
    return found


@pytest.fixture
def client(store: MemoryStore) -> Iterator[httpx.Client]:
    with serving(page_app(store)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def test_the_page_loads_only_from_this_server(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    for testid in ("token", "models", "tool-form", "task", "submit", "job-status", "map", "legend"):
        assert f'data-testid="{testid}"' in page.text
    assert "http://" not in page.text and "https://" not in page.text
    script = client.get("/static/page.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert client.get("/static/page.css").headers["content-type"].startswith("text/css")
    notices = client.get("/static/THIRD-PARTY-NOTICES.txt").text
    assert "ol 10.10.0 (BSD-2-Clause)" in notices


def test_only_the_bundle_is_served_as_static(client: httpx.Client) -> None:
    assert client.get("/static/index.html").status_code == 404
    assert client.get("/static/..%2Froutes.py").status_code == 404
    assert client.get("/static/../routes.py").status_code == 404


def test_every_dialog_submits_as_the_rest_api_parses_it(client: httpx.Client) -> None:
    """Each dialog filled with its defaults is a submitJob the REST API's own parser takes,
    with no parameter left unused."""
    answer = client.get("/page/tools").json()
    assert [tool["task"] for tool in answer["tools"]] == list(TASKS)
    for tool in answer["tools"]:
        values: dict[str, object] = {}
        for field in tool["fields"]:
            if field["choices"] and field["defaultValue"] is not None:
                assert field["defaultValue"] in field["choices"]
            if field["dataType"] in ("raster", "features"):
                values[field["name"]] = f"/data/{field['name']}"
            elif field["dataType"] == "model":
                values[field["name"]] = "m1"
            elif field["defaultValue"] is not None:
                values[field["name"]] = field["defaultValue"]
        checked: list[str] = []
        submission = parse_submission(tool["task"], values, lambda _, v: Path(v), checked.append)
        assert submission.warnings == [], tool["task"]
        assert checked == (["m1"] if tool["takesModel"] else [])
        assert submission.inputs["raster"] == Path("/data/inputRaster")
    export = next(t for t in answer["tools"] if t["task"] == "ExportTrainingDataforDeepLearning")
    formats = next(f for f in export["fields"] if f["name"] == "metadataFormat")
    assert formats["choices"] == list(get_args(MetadataFormat))


def test_layers_describe_a_jobs_rasters_with_their_legend(client: httpx.Client) -> None:
    answer = client.get("/jobs/pixels/layers").json()
    scene, classes = answer["rasters"]["inputRaster"], answer["rasters"]["outputClassifiedRaster"]
    assert scene["kind"] == "imagery" and scene["legend"] is None
    assert classes["kind"] == "classes"
    assert classes["legend"] == [
        {"value": WATER.value, "name": WATER.name, "color": list(WATER.color)},
        {"value": FOREST.value, "name": FOREST.name, "color": list(FOREST.color)},
    ]
    assert classes["tiles"] == "/jobs/pixels/tiles/outputClassifiedRaster/{z}/{x}/{y}.png"
    corners = [lonlat_of_pixel(row, col) for row in (0, ROWS) for col in (0, COLS)]
    lons, lats = [lon for lon, _ in corners], [lat for _, lat in corners]
    expected = [min(lons), min(lats), max(lons), max(lats)]  # UTM's grid is turned to lon/lat
    assert classes["bounds"] == pytest.approx(expected, abs=1e-7)
    assert classes["minzoom"] <= classes["maxzoom"]
    assert answer["features"] == {} and answer["skipped"] == {}


def test_layers_say_why_a_raster_is_not_drawn(client: httpx.Client) -> None:
    answer = client.get("/jobs/odd/layers").json()
    assert answer["rasters"] == {}
    assert "no coordinate reference system" in answer["skipped"]["inputRaster"]
    assert "not a single raster" in answer["skipped"]["outputClassifiedRaster"]
    missing = client.get("/jobs/nope/layers")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]


def test_tiles_over_http(client: httpx.Client) -> None:
    layers = client.get("/jobs/pixels/layers").json()["rasters"]["outputClassifiedRaster"]
    z = layers["maxzoom"] - 3
    x, y, col, row = tile_pixel(*lonlat_of_pixel(5.5, COLS - 5.5), z)
    answer = client.get(f"/jobs/pixels/tiles/outputClassifiedRaster/{z}/{x}/{y}.png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert list(decode_png(answer.content)[:, row, col]) == [*FOREST.color, 255]
    for wrong in (
        f"/jobs/nope/tiles/inputRaster/{z}/{x}/{y}.png",
        f"/jobs/pixels/tiles/outputObjects/{z}/{x}/{y}.png",
        f"/jobs/pixels/tiles/inputRaster/{z}/{2**z}/{y}.png",
        "/jobs/odd/tiles/inputRaster/1/0/0.png",
    ):
        refused = client.get(wrong)
        assert refused.status_code == 404 and refused.json()["error"], wrong


def test_detections_as_geojson_in_lonlat_with_class_and_confidence(client: httpx.Client) -> None:
    layers = client.get("/jobs/objects/layers").json()
    layer = layers["features"]["outputObjects"]
    assert layer["count"] == 2 and layer["url"] == "/jobs/objects/features/outputObjects.geojson"
    assert [entry["color"] for entry in layer["legend"]] == [[0, 0, 255], [0, 128, 0]]
    answer = client.get(layer["url"])
    assert answer.headers["content-type"] == "application/geo+json"
    document = answer.json()
    first, second = document["features"]
    assert first["properties"] | {"geometry": None} == {
        "Class": "Water",
        "ClassValue": 1,
        "Confidence": 91.5,
        "className": "Water",
        "classValue": 1,
        "confidence": 91.5,
        "color": [0, 0, 255],
        "geometry": None,
    }
    assert (
        second["properties"]["className"] == "Forest"
        and second["properties"]["confidence"] == 62.25
    )
    to_utm = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    xs, ys = zip(*(to_utm.transform(*p) for p in first["geometry"]["coordinates"][0]), strict=True)
    left, top = TRANSFORM @ (10, 10)
    assert min(xs) == pytest.approx(left, abs=1e-3) and max(ys) == pytest.approx(top, abs=1e-3)
    west, _, east, _ = layer["bounds"]
    assert west <= min(p[0] for p in first["geometry"]["coordinates"][0]) <= east
    assert client.get("/jobs/objects/features/nope.geojson").status_code == 404


def test_classified_objects_name_their_class_from_classlabel(
    tmp_path: Path, store: MemoryStore, client: httpx.Client
) -> None:
    import pyogrio.raw
    import shapely

    path = tmp_path / "objects.gpkg"
    geometry = np.array(
        shapely.to_wkb([shapely.box(510_000, 4_999_900, 510_100, 5_000_000)]), dtype=object
    )
    fields = [np.array(["Forest"], dtype=object), np.array([5], np.int32), np.array([np.nan])]
    pyogrio.raw.write(
        path, geometry, fields, ["ClassLabel", "ClassValue", "Confidence"],
        field_mask=[None, None, np.array([True])], layer="objects", driver="GPKG",
        geometry_type="Polygon", crs=CRS,
    )  # fmt: skip
    store.jobs["classified"] = JobView(
        "classified", "ClassifyObjectsUsingDeepLearning", "esriJobSucceeded", "m1", tmp_path,
        features={"outputObjects": path},
    )  # fmt: skip
    feature = client.get("/jobs/classified/features/outputObjects.geojson").json()["features"][0]
    assert feature["properties"]["className"] == "Forest"
    assert feature["properties"]["confidence"] is None  # a null confidence stays null


def _built_here(folder: Path) -> None:
    """`npm ci` and the build script of web/, run in `folder` (a copy), into folder/out."""
    source = REPO / "web"
    for name in ("package.json", "package-lock.json", "build.mjs"):
        shutil.copy2(source / name, folder / name)
    shutil.copytree(source / "src", folder / "src")
    for command in (
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        ["node", "build.mjs", str(folder / "out")],
    ):
        subprocess.run(command, cwd=folder, check=True, capture_output=True, timeout=300)


@pytest.mark.slow
def test_the_committed_bundle_is_what_the_lockfile_builds(tmp_path: Path) -> None:
    """A change to web/src or package-lock.json needs `make page` and the rebuilt bundle."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        message = "node and npm are needed to rebuild the page's bundle"
        if os.environ.get("DLPK_REQUIRE_DOCKER") or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    _built_here(tmp_path)
    built = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert built == sorted(path.name for path in STATIC.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "out", STATIC, built, shallow=False)
    assert not mismatch and not errors, f"{mismatch or errors} differ: run `make page`"


def test_the_page_doc_names_every_route_of_the_page() -> None:
    """docs/service-page.md's route table stays true to the router."""
    from fastapi.routing import APIRoute

    from dlpk.serve.page import router

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path.strip())

    text = (REPO / "docs" / "service-page.md").read_text(encoding="utf-8")
    documented = {shape(path) for path in re.findall(r"^\| `GET ([^`]+)`", text, re.M)}
    routes = {shape(r.path) for r in router.routes if isinstance(r, APIRoute)}
    assert routes == documented
