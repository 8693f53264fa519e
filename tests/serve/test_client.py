"""dlpk.Client against a real server: the task functions of dlpk.api, run remotely, their
outputs downloaded; refusals as errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyogrio.raw
import pytest
import rasterio

import dlpk
from dlpk.errors import InputNotFoundError, JobFailedError, OutputExistsError, PackageError
from dlpk.serve.client import RemoteResult, ServiceError
from tests.serve.builders import Data
from tests.serve.service import TOKEN, Service


@pytest.fixture
def sqlite_service(tmp_path: Path, serve_data: Data) -> Iterator[Service]:
    running = Service(tmp_path / "data", [serve_data.root]).start()
    try:
        yield running
    finally:
        running.stop()


def test_task_functions_run_on_the_server(
    sqlite_service: Service, serve_data: Data, tmp_path: Path
) -> None:
    heard: list[tuple[str, int, int | None]] = []
    with dlpk.Client(sqlite_service.url, TOKEN) as client:
        # a local package and a local raster: both uploaded first
        result = client.classify_pixels(
            serve_data.pixels, serve_data.scene, tmp_path / "classes.tif",
            model_arguments={"padding": 4}, progress=lambda *a: heard.append(a),
        )  # fmt: skip
        assert isinstance(result, RemoteResult) and result.status == "esriJobSucceeded"
        assert result.outputs == {"outputClassifiedRaster": tmp_path / "classes.tif"}
        with rasterio.open(tmp_path / "classes.tif") as raster:
            assert raster.shape == (64, 96)
        assert heard and heard[-1][1] == heard[-1][2]

        # a model item id and a raster named by its path on the server
        detector = client.upload_model(serve_data.detector)
        assert client.model(detector["id"])["name"] == "Squares"
        found = client.detect_objects(detector["id"], "squares.tif", tmp_path / "found.gpkg")
        assert isinstance(found, RemoteResult)
        assert len(pyogrio.raw.read(tmp_path / "found.gpkg")[2]) == 2

        labelled = client.classify_objects(
            serve_data.classifier, "halves.tif", tmp_path / "labelled.gpkg", features="points.gpkg"
        )
        assert isinstance(labelled, RemoteResult)
        meta, _, _, fields = pyogrio.raw.read(tmp_path / "labelled.gpkg")
        table = dict(zip(meta["fields"], fields, strict=True))
        assert list(table["ClassLabel"]) == ["Water", "Forest"]

        chips = client.export_training_data(
            "export.tif", tmp_path / "chips", labels="labels.gpkg", tile_size=32, stride=(32, 32),
            metadata_format="Classified_Tiles",
        )  # fmt: skip
        assert isinstance(chips, RemoteResult)
        assert list((tmp_path / "chips" / "images").iterdir())
        assert list((tmp_path / "chips" / "labels").iterdir())

        assert [m["name"] for m in client.models("squares")] == ["Squares"]
        assert len(client.jobs()) == 4


def test_refusals_are_errors(sqlite_service: Service, serve_data: Data, tmp_path: Path) -> None:
    with dlpk.Client(sqlite_service.url, TOKEN) as client:
        with pytest.raises(PackageError) as refused:
            client.upload_model(serve_data.broken)
        assert any(d["code"] == "DL202" for d in refused.value.diagnostics)  # type: ignore[attr-defined]
        with pytest.raises(InputNotFoundError):
            client.job("jmissing")
        model = client.upload_model(serve_data.pixels)["id"]
        with pytest.raises(JobFailedError, match="padding"):
            client.classify_pixels(model, "scene.tif", tmp_path / "x.tif",
                                   model_arguments={"padding": 30})  # fmt: skip
        (tmp_path / "taken.tif").write_bytes(b"mine")
        with pytest.raises(OutputExistsError):
            client.classify_pixels(model, "scene.tif", tmp_path / "taken.tif")
        assert (tmp_path / "taken.tif").read_bytes() == b"mine" and len(client.jobs()) == 1
        job_id = client.classify_pixels(model, "scene.tif", tmp_path / "y.tif", wait=False)
        assert isinstance(job_id, str) and client.wait(job_id)["jobStatus"] == "esriJobSucceeded"
    with dlpk.Client(sqlite_service.url) as anonymous:
        assert anonymous.models()[0]["id"] == model
        with pytest.raises(ServiceError) as no_token:
            anonymous.upload_model(serve_data.pixels)
        assert no_token.value.status == 401
