"""What the model checks share: the package opened once, its test raster, the task runs and
the loaded model.

Task runs go through `dlpk.api` exactly as `dlpk classify-pixels` and friends run them, on the
package unpacked once (each run lints its .emd again, which is cheap); a run is cached by its
label, so checks that need the same run (the contract, nodata, determinism) share it. The
loaded model (`adapter`) is for probes only: the receptive field, NaN on zeros, batch effects
and the bare forward pass the cost is measured against.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.conformance.synthetic import Geometry, TestRaster
from dlpk.errors import DlpkError
from dlpk.runners.models.base import Adapter
from dlpk.spec.choices import Device
from dlpk.spec.configurations import Configuration
from dlpk.spec.emd import EsriModelDefinition
from dlpk.spec.job import Result

PIXELS, DETECTOR, OBJECTS = "classify-pixels", "detect-objects", "classify-objects"
#: Where each task's test output goes (GeoJSON: a GeoPackage holds a timestamp, and the
#: determinism check compares bytes).
SUFFIX = {PIXELS: ".tif", DETECTOR: ".geojson", OBJECTS: ".geojson"}


@dataclass(frozen=True)
class ModelOptions:
    """What `dlpk conformance PKG` was asked: the typed options the CLI and the API pass."""

    package: Path
    raster: Path | None = None
    backend: str = "local"  # local: in this process; docker: the runner image
    image: str | None = None
    arguments: Mapping[str, str] = field(default_factory=dict)
    trust_code: bool = False
    device: Device = "cpu"
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    strict: bool = False
    artifacts: Path | None = None  # where evidence images are written (none when None)
    on_check: Callable[[str, str, str], None] | None = None  # (id, name, status)


@dataclass
class TaskRun:
    """One run of the package's task: its output, its result, or the error it ended with."""

    label: str
    raster: TestRaster
    output: Path
    arguments: dict[str, str]
    result: Result | None = None
    error: DlpkError | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None

    def digest(self) -> str:
        """sha256 of the output's bytes and its side files' (.aux.xml), by their suffixes:
        two runs writing the same bytes under other names have the same digest."""
        hasher = hashlib.sha256()
        stem = self.output.stem
        for path in sorted(self.output.parent.glob(f"{stem}.*")):
            if path.is_file():
                hasher.update(path.name[len(stem) :].encode())
                hasher.update(path.read_bytes())
        return hasher.hexdigest()

    def failure(self) -> str:
        """The one line the run ended with."""
        return str(self.error) if self.error is not None else "no result"


@dataclass
class ModelContext:
    """Everything a model check reads; the kit fills it before the checks run."""

    options: ModelOptions
    folder: Path  # scratch, removed after the run
    emd_path: Path | None = None  # the unpacked .emd
    emd: EsriModelDefinition | None = None
    task: str | None = None
    configuration: Configuration | None = None
    lint_errors: list[str] = field(default_factory=list)
    lint_warnings: list[str] = field(default_factory=list)
    blocked: str | None = None  # why nothing past the package checks can run
    load_error: DlpkError | None = None
    load_skipped: str | None = None  # the model is not loaded here (and why), yet runs
    adapter: Adapter | None = None
    load_seconds: float = 0.0
    geometry: Geometry | None = None
    batch_size: int = 1
    threshold: float = 0.5  # a detector's score cut-off, 0-1
    function_arguments: dict[str, Any] = field(default_factory=dict)  # a raster function's
    raster: TestRaster | None = None
    runs: dict[str, TaskRun] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # what probes measured, once
    backend: Any = None  # the Backend the task runs use

    @property
    def runs_function(self) -> bool:
        return self.configuration is not None and self.configuration.name == "InferenceFunction"

    def artifact(self, name: str) -> Path | None:
        """Where an evidence file named `name` goes, or None when none are kept."""
        folder = self.options.artifacts
        if folder is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def run(
        self,
        label: str,
        arguments: Mapping[str, str] | None = None,
        raster: TestRaster | None = None,
        backend: Any = None,
    ) -> TaskRun:
        """The task on `raster` (default: the test raster) with the user's arguments updated
        by `arguments`; cached by `label`."""
        if label in self.runs:
            return self.runs[label]
        import dlpk.api as api

        assert self.emd_path is not None and self.task is not None
        source = raster or self.raster
        assert source is not None
        given = {**self.options.arguments, **(arguments or {})}
        folder = self.folder / "runs" / label
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / f"output{SUFFIX[self.task]}"  # one name: GeoJSON holds it
        run = TaskRun(label, source, output, given)
        task = {PIXELS: api.classify_pixels, DETECTOR: api.detect_objects}.get(self.task)
        extra: dict[str, Any] = {}
        if self.task == OBJECTS:
            task = api.classify_objects
            extra["features"] = self.folder / "features.geojson"
        assert task is not None
        started = time.perf_counter()
        try:
            run.result = task(
                self.emd_path,
                source.path,
                output,
                model_arguments=given,
                trust_code=self.options.trust_code,
                device=self.options.device,
                backend=backend if backend is not None else self.backend,
                **extra,
            )
        except DlpkError as exc:
            run.error = exc
        run.seconds = round(time.perf_counter() - started, 3)
        self.runs[label] = run
        return run

    def base(self) -> TaskRun:
        """The task with the user's arguments on the test raster: the run most checks read."""
        return self.run("base")
