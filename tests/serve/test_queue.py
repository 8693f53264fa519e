"""The queue on a real server, on SQLite and on PostgreSQL: a bound on running jobs, cancel
(waiting and running), and a restart in the middle of a job that loses nothing."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio

from tests.serve.builders import Data
from tests.serve.service import Service, process_alive, submit, upload_model, wait_for

BIG = {"padding": 8, "tile_size": 32, "batch_size": 4}  # ~9000 tiles: several seconds


def _big_job(http: httpx.Client, model: str) -> str:
    return submit(http, "ClassifyPixelsUsingDeepLearning", inputRaster="big.tif", model=model,
                  modelArguments=BIG)  # fmt: skip


def _running(http: httpx.Client, job_id: str, timeout: float = 60) -> dict[str, object]:
    """Wait until the job is executing and has reported tiles done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/jobs/{job_id}").json()
        progress = job["progress"] or {}
        if job["jobStatus"] == "esriJobExecuting" and progress.get("stage") == "infer" \
                and progress.get("done", 0) > 0:  # fmt: skip
            return dict(job)
        assert job["jobStatus"] in ("esriJobSubmitted", "esriJobExecuting"), job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got going")


def test_queue_bound_and_cancel(tmp_path: Path, serve_data: Data, database: str | None) -> None:
    service = Service(tmp_path / "data", [serve_data.root], database, ("--max-jobs", "1")).start()
    try:
        with service.client() as http:
            model = upload_model(http, serve_data.pixels)["id"]
            first, second = _big_job(http, model), _big_job(http, model)
            job = _running(http, first)
            pid = _worker_pid(service, first)
            assert http.get(f"/jobs/{second}").json()["jobStatus"] == "esriJobSubmitted"

            waiting = http.post(f"/jobs/{second}/cancel")
            assert waiting.status_code == 200 and waiting.json()["jobStatus"] == "esriJobCancelled"
            assert waiting.json()["started"] is None  # it never ran

            assert http.post(f"/jobs/{first}/cancel").status_code == 200
            job = wait_for(http, first, timeout=30)
            assert job["jobStatus"] == "esriJobCancelled"
            assert [m["description"] for m in job["messages"]][-1] == "Cancelled."
            assert not process_alive(pid)
            assert http.post(f"/jobs/{first}/cancel").status_code == 409
            assert http.get(f"/jobs/{first}/results/outputClassifiedRaster").status_code == 404
            assert not (
                service.data / "jobs" / first / "out" / "outputClassifiedRaster.tif"
            ).exists()
    finally:
        service.stop()


@pytest.mark.slow  # ~11 s: a big job, a crash, a restart
def test_restart_mid_job_loses_nothing(
    tmp_path: Path, serve_data: Data, database: str | None
) -> None:
    """The server dies (SIGKILL) while a job runs: its worker stops with it, and the next
    server finds the job, queues it again and finishes it from its checkpoint."""
    service = Service(tmp_path / "data", [serve_data.root], database).start()
    with service.client() as http:
        model = upload_model(http, serve_data.pixels)["id"]
        job_id = _big_job(http, model)
        waiting = submit(http, "ClassifyPixelsUsingDeepLearning", inputRaster="scene.tif",
                         model=model)  # fmt: skip
        _running(http, job_id)
        pid = _worker_pid(service, job_id)
    service.stop(signal.SIGKILL)
    deadline = time.monotonic() + 20
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_alive(pid), "the worker outlived its server"

    service.start()
    try:
        with service.client() as http:
            job = wait_for(http, job_id)
            assert job["jobStatus"] == "esriJobSucceeded", job["messages"]
            assert job["attempts"] == 2
            texts = [m["description"] for m in job["messages"]]
            assert any("queued again (resuming" in t for t in texts), texts
            assert wait_for(http, waiting)["jobStatus"] == "esriJobSucceeded"
            output = service.data / "jobs" / job_id / "out" / "outputClassifiedRaster.tif"
            with rasterio.open(output) as raster:
                values = raster.read(1)
            assert values.shape == (1500, 1500) and set(np.unique(values)) <= {0, 1, 5}
            assert not (values == 255).any()  # every tile was written, none left nodata
    finally:
        service.stop()


@pytest.mark.slow
def test_graceful_stop_requeues_the_running_job(
    tmp_path: Path, serve_data: Data, database: str | None
) -> None:
    service = Service(tmp_path / "data", [serve_data.root], database).start()
    with service.client() as http:
        model = upload_model(http, serve_data.pixels)["id"]
        job_id = _big_job(http, model)
        _running(http, job_id)
    assert service.stop(signal.SIGTERM) == 0
    service.start()
    try:
        with service.client() as http:
            job = wait_for(http, job_id)
            assert job["jobStatus"] == "esriJobSucceeded", job["messages"]
    finally:
        service.stop()


def _worker_pid(service: Service, job_id: str) -> int:
    from dlpk.serve.store import Store

    store = Store(service.database or f"sqlite:///{service.data / 'dlpk.db'}", service.data)
    try:
        row = store.job_row(job_id)
    finally:
        store.close()
    assert row is not None and row["worker_pid"], row
    return int(row["worker_pid"])
