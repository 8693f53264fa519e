"""Jobs on a real server, on SQLite and on PostgreSQL: each of the four tasks submitted with
ArcGIS's parameter names, polled to success, its result fetched and read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyogrio.raw
import rasterio

from tests.serve.builders import Data
from tests.serve.service import Service, submit, upload_model, wait_for


def _models(http: httpx.Client, data: Data) -> dict[str, str]:
    items = [upload_model(http, p) for p in (data.pixels, data.detector, data.classifier)]
    return {item["name"]: item["id"] for item in items}


def _download(http: httpx.Client, job: dict[str, Any], param: str) -> bytes:
    assert job["jobStatus"] == "esriJobSucceeded", job["messages"]
    assert job["results"] == {param: {"paramUrl": f"results/{param}"}}
    info = http.get(f"/jobs/{job['jobId']}/{job['results'][param]['paramUrl']}").json()
    assert info["paramName"] == param
    answer = http.get(info["value"]["url"])
    assert answer.status_code == 200
    return answer.content


def test_four_tasks_succeed_and_their_results_download(
    service: Service, serve_data: Data, tmp_path: Path
) -> None:
    with service.client() as http:
        models = _models(http, serve_data)
        pixels = submit(
            http, "ClassifyPixelsUsingDeepLearning", inputRaster="scene.tif",
            model=models["Pixels"], modelArguments="padding 4;batch_size 2",
            outputClassifiedRaster={"serviceProperties": {"name": "classes"}},
        )  # fmt: skip
        detect = submit(
            http, "DetectObjectsUsingDeepLearning", inputRaster={"uri": str(serve_data.squares)},
            model=models["Squares"], modelArguments={"threshold": 0.5}, runNMS=True,
        )  # fmt: skip
        objects = submit(
            http, "ClassifyObjectsUsingDeepLearning", inputRaster="halves.tif",
            inputFeatures="points.gpkg", model=models["Roofs"],
        )  # fmt: skip
        export = submit(
            http, "ExportTrainingDataforDeepLearning", inputRaster="export.tif",
            inputClassData="labels.gpkg", tileSizeX=32, strideX=32,
            metadataFormat="Classified_Tiles", outputLocation="chips",
        )  # fmt: skip

        job = wait_for(http, pixels)
        (tmp_path / "classes.tif").write_bytes(_download(http, job, "outputClassifiedRaster"))
        with rasterio.open(tmp_path / "classes.tif") as raster:
            values = raster.read(1)
            assert raster.shape == (64, 96) and raster.crs.to_epsg() == 32633
            assert raster.colormap(1)[1][:3] == (0, 0, 255)
        assert set(np.unique(values)) <= {0, 1, 5} and len(np.unique(values)) > 1
        assert job["progress"]["done"] == job["progress"]["total"] > 0
        assert job["started"] >= job["submitted"] and job["finished"] >= job["started"]
        texts = [m["description"] for m in job["messages"]]
        assert texts[0] == "Submitted." and texts[-1] == "Succeeded."
        assert (service.data / "jobs" / pixels / "out" / "classes.tif").is_file()

        job = wait_for(http, detect)
        (tmp_path / "objects.gpkg").write_bytes(_download(http, job, "outputObjects"))
        meta, _, geometry, fields = pyogrio.raw.read(tmp_path / "objects.gpkg")
        table = dict(zip(meta["fields"], fields, strict=True))
        assert sorted(table["Class"]) == ["Forest", "Water"] and len(geometry) == 2
        warnings = [m["description"] for m in job["messages"] if m["type"].endswith("Warning")]
        assert any(w.startswith("runNMS is not used") for w in warnings)

        job = wait_for(http, objects)
        (tmp_path / "labelled.gpkg").write_bytes(_download(http, job, "outputObjects"))
        meta, _, _, fields = pyogrio.raw.read(tmp_path / "labelled.gpkg")
        table = dict(zip(meta["fields"], fields, strict=True))
        assert list(table["name"]) == ["bright", "dark"]
        assert list(table["ClassLabel"]) == ["Water", "Forest"]

        job = wait_for(http, export)
        with zipfile.ZipFile(io.BytesIO(_download(http, job, "outputLocation"))) as archive:
            names = archive.namelist()
        assert any(n.startswith("chips/images/") for n in names)
        assert any(n.startswith("chips/labels/") for n in names)
        assert "chips/esri_model_definition.emd" in names or any(n.endswith(".emd") for n in names)

        listed = [j["jobId"] for j in http.get("/jobs").json()["jobs"]]
        assert listed == [pixels, detect, objects, export]


def test_bad_submissions_are_refused(service: Service, serve_data: Data) -> None:
    with service.client() as http:
        models = _models(http, serve_data)
        task = "/tasks/ClassifyPixelsUsingDeepLearning/submitJob"
        cases = [
            ({"inputRaster": "scene.tif"}, 400, "model is required"),
            ({"inputRaster": "scene.tif", "model": "nope"}, 404, "no model item"),
            ({"model": models["Pixels"]}, 400, "inputRaster is required"),
            ({"inputRaster": "missing.tif", "model": models["Pixels"]}, 400, "no such file"),
            ({"inputRaster": "scene.tif", "model": models["Pixels"], "bogus": 1}, 400,
             "has no parameter 'bogus'"),
            ({"inputRaster": "scene.tif", "model": models["Pixels"], "modelArguments": "padding"},
             400, "modelArguments"),
        ]  # fmt: skip
        for body, status, text in cases:
            answer = http.post(task, json=body)
            assert answer.status_code == status, (body, answer.text)
            assert text in answer.json()["error"], answer.text
        assert http.post("/tasks/NoSuchTask/submitJob", json={}).status_code == 404
        assert http.get("/jobs/jnope").status_code == 404
        assert http.get("/jobs").json() == {"jobs": []}
        jobs = service.data / "jobs"
        assert not jobs.exists() or not any(jobs.iterdir())  # refused: nothing left behind


def test_a_job_that_fails_says_why(service: Service, serve_data: Data) -> None:
    with service.client() as http:
        models = _models(http, serve_data)
        job_id = submit(
            http, "ClassifyPixelsUsingDeepLearning", inputRaster="scene.tif",
            model=models["Pixels"], modelArguments={"padding": 30},  # >= half the 32 px tile
        )  # fmt: skip
        job = wait_for(http, job_id)
        assert job["jobStatus"] == "esriJobFailed"
        errors = [m["description"] for m in job["messages"] if m["type"].endswith("Error")]
        assert errors and "padding" in errors[-1]
        assert http.get(f"/jobs/{job_id}/results/outputClassifiedRaster").status_code == 404


def test_form_fields_and_an_uploaded_raster(service: Service, serve_data: Data) -> None:
    """As ArcGIS's REST clients send them: form fields, modelArguments as JSON text, and an
    input uploaded to /uploads first."""
    with service.client() as http:
        models = _models(http, serve_data)
        uploaded = http.post(
            "/uploads", files={"file": ("my scene.tif", serve_data.scene.read_bytes())}
        )
        assert uploaded.status_code == 201
        item = uploaded.json()["item"]["itemID"]
        answer = http.post(
            "/tasks/ClassifyPixelsUsingDeepLearning/submitJob",
            data={"inputRaster": f'{{"itemId": "{item}"}}', "model": models["Pixels"],
                  "modelArguments": '{"padding": 4}', "outputName": "../../evil name"},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        job = wait_for(http, answer.json()["jobId"])
        assert job["jobStatus"] == "esriJobSucceeded", job["messages"]
        output = service.data / "jobs" / job["jobId"] / "out" / "evil_name.tif"
        assert output.is_file()
        assert job["inputs"]["raster"].endswith("my_scene.tif")


def test_items_separately_give_a_folder(service: Service, serve_data: Data) -> None:
    with service.client() as http:
        models = _models(http, serve_data)
        job_id = submit(http, "ClassifyPixelsUsingDeepLearning", inputRaster="items",
                        model=models["Pixels"], processingMode="PROCESS_ITEMS_SEPARATELY",
                        outputClassifiedRaster="each")  # fmt: skip
        job = wait_for(http, job_id)
        info = http.get(f"/jobs/{job_id}/results/outputClassifiedRaster").json()
        assert info["dataType"] == "GPDataFile"
        with zipfile.ZipFile(io.BytesIO(_download(http, job, "outputClassifiedRaster"))) as archive:
            names = sorted(n for n in archive.namelist() if n.endswith(".tif"))
        assert names == ["each/item1.tif", "each/item2.tif"]
