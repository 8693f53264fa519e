"""`dlpk.Client(url, token)`: a `dlpk serve` from Python, with the task functions of dlpk.api,
so a notebook submits to a server as arcgis.learn users do with Image Server.

A local file given as a model or an input is uploaded first; any other string is a model item
id or a path on the server (under one of its roots). Task functions wait for the job, download
its output to `output` and return a `RemoteResult`; `wait=False` returns the job id at once.
"""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.errors import (
    DlpkError,
    InputNotFoundError,
    JobFailedError,
    JobStoppedError,
    OutputExistsError,
    PackageError,
    UsageError,
)
from dlpk.serve.tasks import TASKS

PathLike = str | os.PathLike[str]
Listener = Callable[[str, int, int | None], None]
Scalar = str | int | float | bool | Sequence[int | float]
FINISHED = ("esriJobSucceeded", "esriJobFailed", "esriJobCancelled")


class ServiceError(DlpkError, RuntimeError):
    """The service refused a request: `status` is the HTTP status, `body` its JSON answer
    (`diagnostics` for a refused package)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error") or f"HTTP {status}"), body.get("hint"))
        self.status = status
        self.body = body
        self.diagnostics: list[dict[str, Any]] = list(body.get("diagnostics") or [])


class PackageRefused(ServiceError, PackageError):
    """A package refused for its lint errors (HTTP 422)."""


@dataclass(frozen=True)
class RemoteResult:
    """A finished job: its record on the service and the outputs downloaded here."""

    job_id: str
    status: str
    messages: list[dict[str, str]]
    outputs: dict[str, Path] = field(default_factory=dict)
    job: dict[str, Any] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return [m["description"] for m in self.messages if m["type"].endswith("Warning")]


class Client:
    """A dlpk service at `url`; `token` is needed for every write (uploads, jobs, cancel)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- model items ---------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._json("GET", "/health")

    def upload_model(self, package: PathLike, name: str | None = None) -> dict[str, Any]:
        """Upload a .dlpk (linted by the service; refused with PackageRefused and its
        diagnostics); the same bytes under the same name give the same item back."""
        path = Path(package)
        data = {"name": name} if name else None
        with open(path, "rb") as handle:
            return self._json("POST", "/models", files={"file": (path.name, handle)}, data=data)

    def register_model(self, server_path: str, name: str | None = None) -> dict[str, Any]:
        """Register a package already on the server, under one of its roots."""
        return self._json("POST", "/models", json={"path": server_path, "name": name})

    def models(self, q: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._json("GET", "/models", params={"q": q} if q else None)[
            "models"
        ]
        return found

    def model(self, model_id: str) -> dict[str, Any]:
        return self._json("GET", f"/models/{model_id}")

    def delete_model(self, model_id: str) -> None:
        self._request("DELETE", f"/models/{model_id}")

    def upload(self, path: PathLike) -> str:
        """Upload an input file; returns the id a job names it by ({"itemId": ID})."""
        source = Path(path)
        with open(source, "rb") as handle:
            answer = self._json("POST", "/uploads", files={"file": (source.name, handle)})
        return str(answer["item"]["itemID"])

    # -- jobs ----------------------------------------------------------------------------
    def submit(self, task: str, parameters: Mapping[str, Any]) -> str:
        """Submit a task with ArcGIS's parameter names; returns the job id."""
        answer = self._json("POST", f"/tasks/{task}/submitJob", json=dict(parameters))
        return str(answer["jobId"])

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{job_id}")

    def jobs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._json("GET", "/jobs")["jobs"]
        return found

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/jobs/{job_id}/cancel")

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        poll: float = 0.5,
        progress: Listener | None = None,
    ) -> dict[str, Any]:
        """Poll until the job finishes; raises JobFailedError or JobStoppedError unless it
        succeeded, JobStoppedError too when `timeout` seconds pass first."""
        started, heard = time.monotonic(), None
        while True:
            job = self.job(job_id)
            if progress is not None and job["progress"] and job["progress"] != heard:
                heard = job["progress"]
                progress(heard["stage"], heard["done"], heard["total"])
            if job["jobStatus"] in FINISHED:
                break
            if timeout is not None and time.monotonic() - started > timeout:
                raise JobStoppedError(f"job {job_id} did not finish within {timeout:g} s")
            time.sleep(poll)
        errors = [m["description"] for m in job["messages"] if m["type"].endswith("Error")]
        if job["jobStatus"] == "esriJobFailed":
            raise JobFailedError(f"job {job_id} failed: {errors[-1] if errors else 'no message'}")
        if job["jobStatus"] == "esriJobCancelled":
            raise JobStoppedError(f"job {job_id} was cancelled")
        return job

    def download(self, job_id: str, param: str, target: PathLike) -> Path:
        """Download one result to `target` (a folder result is unzipped into it)."""
        info = self._json("GET", f"/jobs/{job_id}/results/{param}")
        destination = Path(target)
        folder = info["dataType"] == "GPDataFile"
        file = destination.with_name(f".{destination.name}.download") if folder else destination
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(f".{file.name}.part")
        with self._http.stream("GET", info["value"]["url"]) as response:
            self._check(response, streamed=True)
            with open(partial, "wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        os.replace(partial, file)
        if folder:
            _unzip(file, destination)
            file.unlink()
        return destination

    # -- the task functions of dlpk.api ----------------------------------------------------
    def classify_pixels(
        self,
        model: PathLike,
        raster: PathLike,
        output: PathLike,
        *,
        model_arguments: Mapping[str, Scalar] | None = None,
        processing_mode: str = "PROCESS_AS_MOSAICKED_IMAGE",
        overwrite: bool = False,
        wait: bool = True,
        progress: Listener | None = None,
    ) -> RemoteResult | str:
        extra = {"processingMode": processing_mode}
        return self._infer("ClassifyPixelsUsingDeepLearning", model, raster, output,
                           model_arguments, extra, (overwrite, wait), progress)  # fmt: skip

    def detect_objects(
        self,
        model: PathLike,
        raster: PathLike,
        output: PathLike,
        *,
        model_arguments: Mapping[str, Scalar] | None = None,
        overwrite: bool = False,
        wait: bool = True,
        progress: Listener | None = None,
    ) -> RemoteResult | str:
        return self._infer("DetectObjectsUsingDeepLearning", model, raster, output,
                           model_arguments, {}, (overwrite, wait), progress)  # fmt: skip

    def classify_objects(
        self,
        model: PathLike,
        raster: PathLike,
        output: PathLike,
        *,
        features: PathLike | None = None,
        features_layer: str | None = None,
        model_arguments: Mapping[str, Scalar] | None = None,
        overwrite: bool = False,
        wait: bool = True,
        progress: Listener | None = None,
    ) -> RemoteResult | str:
        extra: dict[str, Any] = {}
        if features is not None:
            extra["inputFeatures"] = self._input(features)
        if features_layer is not None:
            extra["featuresLayer"] = features_layer
        return self._infer("ClassifyObjectsUsingDeepLearning", model, raster, output,
                           model_arguments, extra, (overwrite, wait), progress)  # fmt: skip

    def export_training_data(
        self,
        raster: PathLike,
        output: PathLike,
        *,
        overwrite: bool = False,
        wait: bool = True,
        progress: Listener | None = None,
        **options: Any,
    ) -> RemoteResult | str:
        """Export chips into the folder `output`; `options` are dlpk.api's keywords (labels,
        metadata_format, tile_size, stride, image_chip_format, ...)."""
        _check_output(Path(output), overwrite)
        task = "ExportTrainingDataforDeepLearning"
        names = {keyword: name for name, (keyword, _) in TASKS[task].parameters.items()}
        names |= {"processing_mode": "processingMode", "tile_size": "tileSizeX",
                  "stride": "strideX"}  # fmt: skip
        parameters: dict[str, Any] = {"inputRaster": self._input(raster)}
        for keyword, value in options.items():
            if keyword not in names or value is None:
                raise UsageError(f"export_training_data: no option {keyword!r} on the service")
            kind = TASKS[task].parameters.get(names[keyword], ("", ""))[1]
            if keyword in ("tile_size", "stride") and not isinstance(value, int):
                parameters[names[keyword]], parameters[names[keyword][:-1] + "Y"] = value
                continue
            parameters[names[keyword]] = self._input(value) if kind == "path" else value
        parameters["outputLocation"] = Path(output).name
        return self._run(task, parameters, output, (overwrite, wait), progress)

    export_chips = export_training_data

    def _infer(
        self,
        task: str,
        model: PathLike,
        raster: PathLike,
        output: PathLike,
        model_arguments: Mapping[str, Scalar] | None,
        extra: dict[str, Any],
        flags: tuple[bool, bool],
        progress: Listener | None,
    ) -> RemoteResult | str:
        _check_output(Path(output), flags[0])
        parameters: dict[str, Any] = {
            "model": self._model_id(model),
            "inputRaster": self._input(raster),
            TASKS[task].output: Path(output).stem,
            **extra,
        }
        if model_arguments:
            from dlpk.api import model_argument_strings

            parameters["modelArguments"] = model_argument_strings(model_arguments)
        return self._run(task, parameters, output, flags, progress)

    def _run(
        self,
        task: str,
        parameters: dict[str, Any],
        output: PathLike,
        flags: tuple[bool, bool],
        progress: Listener | None,
    ) -> RemoteResult | str:
        """Submit; with `flags` (overwrite, wait) wait, download and return the result."""
        _, wait = flags
        job_id = self.submit(task, parameters)
        if not wait:
            return job_id
        job = self.wait(job_id, progress=progress)
        outputs = {name: self.download(job_id, name, output) for name in job["results"]}
        return RemoteResult(job_id, job["jobStatus"], job["messages"], outputs, job)

    def _model_id(self, model: PathLike) -> str:
        path = Path(model)
        if path.is_file():
            return str(self.upload_model(path)["id"])
        return str(model)

    def _input(self, value: PathLike) -> Any:
        path = Path(value)
        if path.is_file():
            return {"itemId": self.upload(path)}
        return str(value)

    # -- HTTP ----------------------------------------------------------------------------
    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._http.request(method, url, **kwargs)
        self._check(response)
        return response

    def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, url, **kwargs)
        body = response.json()
        if not isinstance(body, dict):
            raise ServiceError(response.status_code, {"error": "the answer is not an object"})
        return body

    @staticmethod
    def _check(response: Any, streamed: bool = False) -> None:
        if response.status_code < 400:
            return
        if streamed:
            response.read()
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:200] or f"HTTP {response.status_code}"}
        if not isinstance(body, dict):
            body = {"error": str(body)}
        if response.status_code == 422 and "diagnostics" in body:
            raise PackageRefused(response.status_code, body)
        if response.status_code == 404:
            raise _NotFound(response.status_code, body)
        raise ServiceError(response.status_code, body)


def _check_output(output: Path, overwrite: bool) -> None:
    """Refuse before submitting what the download would replace."""
    if output.exists() and not overwrite:
        raise OutputExistsError(f"{output} already exists", "pass overwrite=True to replace it")


class _NotFound(ServiceError, InputNotFoundError):
    """No such model item, job, upload or result (HTTP 404)."""


def _unzip(archive_path: Path, target: Path) -> None:
    """A folder result's members into `target`, each name checked to stay inside it."""
    target.mkdir(parents=True, exist_ok=True)
    base = target.resolve()
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            parts = Path(info.filename).parts[1:]  # below the output folder's own name
            if not parts or info.is_dir():
                continue
            destination = (base / Path(*parts)).resolve()
            if not destination.is_relative_to(base):
                raise ServiceError(502, {"error": f"unsafe name in the result: {info.filename}"})
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(destination, "wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
