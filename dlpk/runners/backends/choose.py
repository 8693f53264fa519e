"""Turning what a caller names (nothing, "local", "docker", "ray", or a backend object) into a
Backend."""

from __future__ import annotations

from dlpk.errors import UsageError
from dlpk.runners.backends.base import Backend
from dlpk.runners.backends.docker import Docker
from dlpk.runners.backends.local import InProcess, Local
from dlpk.runners.backends.ray import Ray

BACKENDS: dict[str, type[Backend]] = {
    "in-process": InProcess,
    "local": Local,
    "docker": Docker,
    "ray": Ray,
}


def resolve_backend(backend: Backend | str | None) -> Backend:
    """None runs in the calling process; a name makes that backend with its defaults."""
    if backend is None:
        return InProcess()
    if isinstance(backend, str):
        found = BACKENDS.get(backend)
        if found is None:
            names = ", ".join(BACKENDS)
            raise UsageError(f"unknown backend {backend!r}", f"use one of {names}, or an object")
        return found()
    if not isinstance(backend, Backend):
        raise UsageError(
            f"{backend!r} is not a backend",
            "pass None, 'local', 'docker', 'ray', dlpk.Docker(...) or dlpk.Ray(...)",
        )
    return backend
