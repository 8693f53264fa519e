"""Run a job in a per-framework runner image: isolated, reproducible, optionally on GPUs.

The container runs the same entrypoint as the local backend (`python -m dlpk.runners /job`) with
no network, a read-only root filesystem and a tmpfs for scratch, all capabilities dropped,
no-new-privileges, as the calling user (outputs belong to the user; never as root: a root caller's
jobs run as the images' unprivileged runner user, lent the output folders for the run), the job
directory, inputs and model mounted read-only and only the output folders writable.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from dlpk.errors import ContainerError, ImageMissingError, JobStoppedError, UsageError
from dlpk.interrupts import STOP_GRACE_SECONDS
from dlpk.remote import is_remote, shown
from dlpk.runners.backends.base import read_result
from dlpk.runners.backends.images.catalog import IMAGE_PROVIDES, build_command, default_image
from dlpk.runners.backends.images.docker_client import docker_client
from dlpk.runners.backends.launch import PreparedJob, make_mountpoints
from dlpk.runners.backends.ownership import container_user, lent_to
from dlpk.runners.progress import Progress, relay_progress
from dlpk.spec.choices import Device
from dlpk.spec.job import Result

CONTAINER_JOBDIR = "/job"
log = logging.getLogger("dlpk.docker")
GPU_HELP = "install nvidia-container-toolkit and restart dockerd, or use --device cpu"


@dataclass(frozen=True)
class DockerOptions:
    image: str
    device: Device = "cpu"
    gpus: str | None = None  # "0,1": device ids; None: all
    memory: str | None = None  # "8g"
    cpus: float | None = None
    timeout: float | None = None  # seconds
    user: str | None = None  # "uid:gid"; default: the calling user


def device_requests(device: Device, gpus: str | None, runtimes: set[str]) -> list[dict[str, Any]]:
    """The `--gpus` equivalent for the Docker API; [] means CPU.

    `auto` uses GPUs only when the daemon has the NVIDIA runtime; `gpu` without it is an error.
    """
    if device == "cpu":
        return []
    if "nvidia" not in runtimes:
        if device == "gpu":
            raise ContainerError("--device gpu: the Docker daemon has no NVIDIA runtime", GPU_HELP)
        return []
    request: dict[str, Any] = {"Driver": "", "Capabilities": [["gpu"]]}
    if gpus:
        request["DeviceIDs"] = [g.strip() for g in gpus.split(",") if g.strip()]
        request["Count"] = 0
    else:
        request["Count"] = -1
    return [request]


def _mount_spec(source: Path, target: str, read_only: bool) -> dict[str, Any]:
    return {"Type": "bind", "Source": str(source), "Target": target, "ReadOnly": read_only}


def container_config(
    prepared: PreparedJob, options: DockerOptions, requests: list[dict[str, Any]]
) -> dict[str, Any]:
    """The full container creation request (the body of POST /containers/create)."""
    jobdir = prepared.jobdir
    mounts = [
        _mount_spec(jobdir, CONTAINER_JOBDIR, True),
        _mount_spec(jobdir / "out", f"{CONTAINER_JOBDIR}/out", False),
    ]
    mounts += [
        _mount_spec(m.source, f"{CONTAINER_JOBDIR}/{m.target}", m.read_only)
        for m in prepared.mounts
    ]
    host_config: dict[str, Any] = {
        "Mounts": mounts,
        "ReadonlyRootfs": True,
        "Tmpfs": {"/tmp": "rw,nosuid,nodev,size=2g"},
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
        "NetworkMode": "none",
        "PidsLimit": 4096,
        "ShmSize": 512 * 1024**2,
    }
    if requests:
        host_config["DeviceRequests"] = requests
    host_config["Memory"] = memory_limit(options.memory)
    host_config["MemorySwap"] = host_config["Memory"]  # no swap beyond the limit
    if options.cpus:
        host_config["NanoCpus"] = int(options.cpus * 1e9)
    user = container_user(options.user)
    return {
        "Image": options.image,
        "Cmd": [CONTAINER_JOBDIR],
        "User": user,
        "WorkingDir": CONTAINER_JOBDIR,
        "Env": ["HOME=/tmp", "TMPDIR=/tmp", "PYTHONDONTWRITEBYTECODE=1", "DLPK_LAUNCHED=1"],
        "NetworkDisabled": True,
        "Labels": {"dlpk.job": str(jobdir)},
        "HostConfig": host_config,
    }


def memory_limit(text: str | None) -> int:
    """A container's memory limit in bytes: `text` ("8g", "512m", "2.5G", bytes), or by default
    three quarters of this machine's memory, so a runaway package cannot take the host down."""
    if text is None:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * 3 // 4)
    units = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    cleaned = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        if cleaned and cleaned[-1] in units:
            value = int(float(cleaned[:-1]) * units[cleaned[-1]])
        else:
            value = int(cleaned)
    except ValueError:
        value = 0
    if value < 6 * 1024**2:  # Docker's own minimum
        raise UsageError(f"--memory {text!r} is not a size of at least 6m", "e.g. --memory 8g")
    return value


def check_image(client: Any, image: str, emd_framework: str | None) -> None:
    """The image exists and can run the package's framework."""
    try:
        found = client.images.get(image)
    except Exception as exc:
        framework = image.removeprefix("dlpk-runner-").split(":")[0]
        hint = (
            f"build it: {build_command(framework)}"
            if framework in IMAGE_PROVIDES
            else "build or load it first"
        )
        raise ImageMissingError(f"image {image} is not present", hint) from exc
    provides = IMAGE_PROVIDES.get(found.labels.get("dlpk.framework", ""), None)
    if emd_framework is not None and provides is not None and emd_framework not in provides:
        raise ContainerError(
            f"image {image} cannot run {emd_framework} models",
            "drop --image to pick the right image automatically",
        )


def create_container(client: Any, config: dict[str, Any]) -> str:
    """A container made from `container_config`'s answer (no network); returns its id."""
    created = client.api.create_container(
        image=config["Image"],
        command=config["Cmd"],
        user=config["User"],
        working_dir=config["WorkingDir"],
        environment=config["Env"],
        network_disabled=True,
        labels=config["Labels"],
        host_config=config["HostConfig"],
    )
    return str(created["Id"])


def run_docker(
    prepared: PreparedJob,
    options: DockerOptions,
    emd_framework: str | None = None,
    on_progress: Progress | None = None,
    on_log: Callable[[str], None] | None = None,
    notice: Callable[[str], None] = lambda message: None,
    poll: float = 0.2,
) -> int:
    """Run the prepared job in a container; returns the entrypoint's exit code."""
    client = docker_client()
    check_image(client, options.image, emd_framework)
    runtimes = set((client.info().get("Runtimes") or {}).keys())
    requests = device_requests(options.device, options.gpus, runtimes)
    if options.device == "auto" and not requests and emd_framework is not None:
        notice("no NVIDIA runtime in the Docker daemon: running on the CPU")
    make_mountpoints(prepared)
    config = container_config(prepared, options, requests)
    writable = [prepared.jobdir / "out", *(m.source for m in prepared.mounts if not m.read_only)]
    readable = [prepared.jobdir, *(m.source for m in prepared.mounts if m.read_only)]
    # the container is removed before its folders are given back
    with lent_to(config["User"], writable, [p for p in readable if p.is_dir()]):
        container_id = create_container(client, config)
        try:
            _start(client, container_id)
            if on_log is not None:
                _follow_logs(client, container_id, on_log)
            code = _wait(client, container_id, prepared, options.timeout, on_progress, poll)
            state = client.api.inspect_container(container_id)["State"]
            if state.get("OOMKilled"):
                raise ContainerError(
                    "the container was killed for exceeding its memory limit "
                    f"({options.memory or 'default: 3/4 of this machine'})",
                    "raise --memory",
                )
            return code
        except BaseException:  # --timeout, Ctrl-C, SIGTERM, SIGHUP, or a failure here
            _stop(client, container_id)
            raise
        finally:
            client.api.remove_container(container_id, force=True)


def _stop(client: Any, container_id: str) -> None:
    """`docker stop`: SIGTERM to the runner, which unwinds as on Ctrl-C (classify-pixels
    records its checkpoint as stopped, for --resume), then SIGKILL after the grace period."""
    try:
        client.api.stop(container_id, timeout=int(STOP_GRACE_SECONDS))
    except Exception:  # gone already, or the daemon failed: the forced removal follows
        log.debug("stopping container %s failed", container_id, exc_info=True)


def _start(client: Any, container_id: str) -> None:
    try:
        client.api.start(container_id)
    except Exception as exc:
        if "gpu" in str(exc).lower() or "device driver" in str(exc).lower():
            raise ContainerError(f"cannot start with GPUs: {exc}", GPU_HELP) from exc
        raise ContainerError(f"cannot start the container: {exc}") from exc


def _follow_logs(client: Any, container_id: str, on_log: Callable[[str], None]) -> None:
    def pump() -> None:
        try:
            for chunk in client.api.logs(container_id, stream=True, follow=True):
                for line in chunk.decode("utf-8", "replace").splitlines():
                    on_log(line)
        except Exception:  # the container is gone: nothing more to show
            return

    threading.Thread(target=pump, daemon=True).start()


def _wait(
    client: Any,
    container_id: str,
    prepared: PreparedJob,
    timeout: float | None,
    on_progress: Progress | None,
    poll: float,
) -> int:
    """The container's exit code once it ends; past `timeout`, JobStoppedError (the caller
    stops the container)."""
    progress_file = prepared.jobdir / "out" / "progress.jsonl"
    offset, started = 0, time.monotonic()
    while True:
        state = client.api.inspect_container(container_id)["State"]
        if on_progress is not None:
            offset = relay_progress(progress_file, offset, on_progress)
        if not state.get("Running"):
            return int(state.get("ExitCode", 1))
        if timeout is not None and time.monotonic() - started > timeout:
            raise JobStoppedError(f"the job ran longer than --timeout {timeout:g} s; stopped")
        time.sleep(poll)


@dataclass(frozen=True)
class Docker:
    """The Backend that runs each job in its framework's runner image (`image=None` picks it
    from the package's Framework); the container is the sandbox, so package code may run.

    `on_log` hears the container's log lines and notices (default: the `dlpk.docker` logger).
    """

    image: str | None = None
    device: Device = "auto"
    gpus: str | None = None
    memory: str | None = None
    cpus: float | None = None
    timeout: float | None = None
    user: str | None = None
    on_log: Callable[[str], None] | None = None
    name: ClassVar[str] = "docker"
    sandboxed: ClassVar[bool] = True

    def __post_init__(self) -> None:
        memory_limit(self.memory)  # a bad size is refused before any job is built

    def options_for(self, framework: str | None) -> DockerOptions:
        variant: Literal["cpu", "gpu"] = "gpu" if self.device == "gpu" else "cpu"
        return DockerOptions(
            image=self.image or default_image(framework, variant),
            device=self.device,
            gpus=self.gpus,
            memory=self.memory,
            cpus=self.cpus,
            timeout=self.timeout,
            user=self.user,
        )

    def run(self, prepared: PreparedJob, on_progress: Progress | None = None) -> Result:
        refuse_network_inputs(prepared)
        say = self.on_log or log.info
        options = self.options_for(prepared.framework)
        code = run_docker(prepared, options, prepared.framework, on_progress, say, say)
        return read_result(prepared.jobdir, code)


def refuse_network_inputs(prepared: PreparedJob) -> None:
    """A runner container has no network: a raster GDAL would read from a URL cannot be read
    there. Said before the container starts."""
    inputs = prepared.job.get("inputs")
    for value in (inputs if isinstance(inputs, dict) else {}).values():
        if isinstance(value, str) and is_remote(value):
            raise UsageError(
                f"{shown(value)} is read over the network, which runner containers do not have",
                hint="run it with --backend local or ray, or download it and pass the file",
            )
