"""`dlpk.Ray`: the Backend protocol on a Ray cluster (docs/cluster.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dlpk.errors import UsageError
from dlpk.runners.backends.launch import PreparedJob, link_mounts
from dlpk.runners.progress import Progress
from dlpk.spec.choices import Device
from dlpk.spec.job import Result


@dataclass(frozen=True)
class Ray:
    """Runs a job in shares on a Ray cluster: `address` is "auto" (the cluster this machine
    belongs to), HOST:PORT, ray://HOST:10001 (Ray Client), or None ($RAY_ADDRESS, else a local
    Ray started for the job); `workers` defaults to as many as the cluster's CPUs (or GPUs)
    hold, each asking `cpus_per_worker` CPUs and, on GPUs, `gpus_per_worker` (a fraction
    shares a GPU). A lost worker is started again and its share run again up to `retries`
    times. Inputs, outputs and `work_dir` (default: beside the output) must be on a file
    system every node sees under the same path."""

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float | None = None
    cpus_per_worker: float = 1.0
    device: Device = "auto"
    retries: int = 3
    timeout: float | None = None
    work_dir: str | os.PathLike[str] | None = None
    poll: float = 0.2
    name: ClassVar[str] = "ray"
    sandboxed: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--ray-workers {self.workers}: must be at least 1")
        if self.gpus_per_worker is not None and self.gpus_per_worker <= 0:
            raise UsageError(
                f"--gpus-per-worker {self.gpus_per_worker:g}: must be above 0 "
                "(0.25: four workers share a GPU)"
            )
        if not self.cpus_per_worker > 0:
            raise UsageError(f"cpus_per_worker {self.cpus_per_worker:g}: must be above 0")
        if self.retries < 0:
            raise UsageError(f"retries {self.retries}: must be 0 or more")

    def run(self, prepared: PreparedJob, on_progress: Progress | None = None) -> Result:
        from dlpk.runners.backends.ray.cluster import import_ray
        from dlpk.runners.backends.ray.driver import Settings, run_in_shares

        import_ray()  # before any work: without the extra, say which to install
        link_mounts(prepared)
        settings = Settings(
            address=self.address,
            workers=self.workers,
            cpus_per_worker=self.cpus_per_worker,
            gpus_per_worker=self.gpus_per_worker,
            retries=self.retries,
            timeout=self.timeout,
            work_dir=Path(self.work_dir) if self.work_dir is not None else None,
            poll=self.poll,
        )
        return run_in_shares(prepared, settings, on_progress)
