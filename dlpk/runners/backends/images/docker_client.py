"""Connecting to the Docker daemon, with failures turned into one actionable line."""

from __future__ import annotations

from typing import Any

from dlpk.errors import DockerUnavailableError


def docker_client() -> Any:
    """A connected docker SDK client; the daemon not running or access denied is a clear error."""
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise DockerUnavailableError("the docker Python package is not installed") from exc
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        text = str(exc)
        if "Permission denied" in text or "PermissionError" in text:
            reason = "permission denied on the Docker socket (add yourself to the docker group)"
        else:
            reason = "the Docker daemon is not running or not reachable"
        raise DockerUnavailableError(
            f"cannot use Docker: {reason}", "start dockerd, or run with --backend local"
        ) from exc
    return client
