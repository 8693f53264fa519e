"""What the service's parts see of a model item and a job: the read side shared by the REST
routes and the page, so neither reaches into the other's database tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class ModelView:
    """A registered model item: its package on disk and what `dlpk inspect` said of it."""

    id: str
    name: str
    version: int
    sha256: str
    path: Path
    description: dict[str, Any]


@dataclass(frozen=True)
class JobView:
    """A job as recorded: ArcGIS's task name and status, and where its files are.

    `rasters` and `features` name the job's inputs and outputs by ArcGIS parameter name
    (`inputRaster`, `outputClassifiedRaster`, `outputObjects`, ...) with their paths on disk,
    so the page can draw them without knowing the job contract.
    """

    id: str
    task: str
    status: str
    model_id: str
    job_dir: Path
    rasters: dict[str, Path] = field(default_factory=dict)
    features: dict[str, Path] = field(default_factory=dict)


class ServiceStore(Protocol):
    """The read side of the service's database, as the page needs it."""

    def get_model(self, model_id: str) -> ModelView | None: ...

    def get_job(self, job_id: str) -> JobView | None: ...
