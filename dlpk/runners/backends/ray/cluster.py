"""Joining a Ray cluster, and the resources each worker asks of it.

`ray` is an optional extra, imported here only. An address that answers nothing is refused
in a few seconds with one line (Ray itself would wait minutes for a head node that is not
there); without an address a local Ray is started for the job and stopped after it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from dlpk.errors import UsageError
from dlpk.interrupts import handlers_kept

CONNECT_SECONDS = 5.0
EXTRA = "pip install 'dlpk[ray]'"


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise UsageError("the ray backend needs Ray, which is not installed", EXTRA) from None
    return ray


def check_address(address: str) -> None:
    """A HOST:PORT or ray://HOST:PORT address must accept a connection within a few seconds."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(
            f"--ray-address {address!r} is not an address",
            "use auto, HOST:PORT (the head's GCS, port 6379 by default) or ray://HOST:10001",
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UsageError(
            f"no Ray cluster answers at {address} ({reason})",
            "start one with `ray start --head`, or check --ray-address",
        ) from None


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[str]:
    """Join the cluster at `address` (None: $RAY_ADDRESS, else a local Ray started for the
    job) for the block; yields the address as the result reports it. A process that has
    joined a cluster itself (ray.init) keeps its connection."""
    ray = import_ray()
    if ray.is_initialized():
        yield "joined by the caller"
        return
    target = address or os.environ.get("RAY_ADDRESS") or "local"
    check_address(target)
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if target == "local":
        options["include_dashboard"] = False
    try:
        with handlers_kept():  # Ray's own SIGTERM handler would end the driver on the spot
            ray.init(address=target, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        message = next((line for line in str(exc).splitlines() if line.strip()), repr(exc))
        raise UsageError(
            f"cannot join the Ray cluster at {target}: {message}",
            "start one with `ray start --head`, or check --ray-address",
        ) from None
    try:
        yield target
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class Placement:
    """What each worker asks of the cluster, and how many fit in it."""

    cpus: float
    gpus: float
    workers: int

    def options(self, retries: int) -> dict[str, Any]:
        """ray.remote options of a worker actor: a lost worker is started again (on any
        node) and its share run again, up to `retries` times."""
        return {
            "num_cpus": self.cpus,
            "num_gpus": self.gpus,
            "max_restarts": retries,
            "max_task_retries": retries,
        }


def placement(
    resources: dict[str, float], device: str, cpus: float, gpus_per_worker: float | None
) -> Placement:
    """Workers on GPUs for --device gpu, and for auto when the cluster has one; as many as
    the cluster's GPUs (or CPUs) hold."""
    gpus = float(resources.get("GPU", 0.0))
    if device == "gpu" and gpus <= 0:
        raise UsageError("--device gpu: the Ray cluster has no GPU", "use --device cpu or auto")
    if device == "cpu" and gpus_per_worker:
        raise UsageError("--gpus-per-worker needs --device gpu or auto")
    if device != "cpu" and gpus > 0:
        share = gpus_per_worker or 1.0
        return Placement(cpus, share, max(1, math.floor(gpus / share + 1e-9)))
    return Placement(cpus, 0.0, max(1, math.floor(float(resources.get("CPU", 0.0)) / cpus)))
