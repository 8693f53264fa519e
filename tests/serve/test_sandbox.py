"""A package with Python code runs under the service only where the backend's sandbox rules
let it: the local backend refuses it (the service passes no trust flag), the Docker backend
runs it in the runner container and its output is the trusted local run's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import dlpk
from tests.conftest import require_image
from tests.raster_functions import THRESHOLD_PRF, function_package
from tests.rasters import write_raster
from tests.serve.service import Service, submit, upload_model, wait_for


def threshold_job(root: Path) -> tuple[Path, Path]:
    """The Threshold raster function (it reads uint16 pixels) and a scene for it, in `root`."""
    model = function_package(root / "threshold", "Threshold", THRESHOLD_PRF, "ImageClassification")
    data = np.random.default_rng(4).integers(0, 240, (3, 40, 52), dtype=np.uint16)
    return model, write_raster(root / "scene16.tif", data)


def classify(service: Service, model: Path) -> dict[str, object]:
    with service.client() as http:
        item = upload_model(http, model)["id"]
        job_id = submit(
            http, "ClassifyPixelsUsingDeepLearning", inputRaster="scene16.tif", model=item,
            modelArguments="threshold 120",
        )  # fmt: skip
        return wait_for(http, job_id, timeout=180)


def test_the_local_backend_refuses_a_packages_code(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    model, _ = threshold_job(root)
    service = Service(tmp_path / "data", [root]).start()
    try:
        job = classify(service, model)
    finally:
        service.stop()
    assert job["jobStatus"] == "esriJobFailed"
    errors = [m["description"] for m in job["messages"] if "Error" in m["type"]]  # type: ignore[union-attr, index]
    assert any("trust" in text for text in errors), errors


def test_the_docker_backend_runs_it_in_the_sandbox(tmp_path: Path) -> None:
    require_image("pytorch")
    root = tmp_path / "root"
    root.mkdir()
    model, scene = threshold_job(root)
    trusted = tmp_path / "trusted.tif"
    dlpk.classify_pixels(model, scene, trusted, model_arguments={"threshold": 120}, trust_code=True)
    service = Service(tmp_path / "data", [root], options=("--backend", "docker")).start()
    try:
        job = classify(service, model)
    finally:
        service.stop()
    assert job["jobStatus"] == "esriJobSucceeded", job["messages"]
    [output] = (tmp_path / "data" / "jobs").glob("*/out/outputClassifiedRaster.tif")
    assert output.read_bytes() == trusted.read_bytes()
