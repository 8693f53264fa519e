"""The runner under test: a command (`python -m dlpk.runners`, another team's binary) given the
job directory as its last argument, or a runner image whose entrypoint takes `/job`.

A command runs with the job's model/ and in/ (and job.json) made read-only; an image runs as
the Docker backend runs it (read-only root and job, only out/ writable, no network). Both can
be killed mid-job (SIGKILL, to the command's whole process group), for the atomic-output case.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dlpk.errors import UsageError

#: Polled while a job runs: True kills it.
KillWhen = Callable[[Path], bool]


@dataclass(frozen=True)
class Ended:
    """How a job ended: its exit code (None when killed or timed out), and the last lines it
    printed."""

    exit_code: int | None
    killed: bool = False
    timed_out: bool = False
    seconds: float = 0.0
    output: str = ""


class Target(Protocol):
    @property
    def description(self) -> str: ...

    def run(self, jobdir: Path, timeout: float, kill_when: KillWhen | None = None) -> Ended: ...


@dataclass(frozen=True)
class CommandTarget:
    """`argv + [JOBDIR]`, in a process group of its own."""

    argv: tuple[str, ...]
    poll: float = 0.05

    @property
    def description(self) -> str:
        return shlex.join(self.argv)

    def run(self, jobdir: Path, timeout: float, kill_when: KillWhen | None = None) -> Ended:
        log = jobdir.parent / f"{jobdir.name}.console.txt"
        started = time.monotonic()
        with open(log, "wb") as console:
            try:
                process = subprocess.Popen(
                    [*self.argv, str(jobdir)],
                    stdout=console,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                raise UsageError(
                    f"--runner {self.description}: cannot start it ({exc.strerror or exc})",
                    "name an executable command, or an image as docker:IMAGE",
                ) from None
            killed = timed_out = False
            try:
                while process.poll() is None:
                    if kill_when is not None and not killed and kill_when(jobdir):
                        _kill_group(process)
                        killed = True
                    if time.monotonic() - started > timeout:
                        _kill_group(process)
                        timed_out = True
                    time.sleep(self.poll)
            finally:
                if process.poll() is None:
                    _kill_group(process)
                process.wait()
        code = None if killed or timed_out else process.returncode
        return Ended(code, killed, timed_out, time.monotonic() - started, _tail(log))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class ImageTarget:
    """A runner image, run as the Docker backend runs one (its security settings, its user)."""

    image: str
    poll: float = 0.1

    @property
    def description(self) -> str:
        return f"docker:{self.image}"

    def run(self, jobdir: Path, timeout: float, kill_when: KillWhen | None = None) -> Ended:
        from dlpk.runners.backends.docker import (
            DockerOptions,
            check_image,
            container_config,
            create_container,
        )
        from dlpk.runners.backends.images.docker_client import docker_client
        from dlpk.runners.backends.launch import PreparedJob
        from dlpk.runners.backends.ownership import lent_to

        client = docker_client()
        check_image(client, self.image, None)
        prepared = PreparedJob(jobdir, {}, owned=False)
        config = container_config(prepared, DockerOptions(self.image, "cpu"), [])
        started = time.monotonic()
        with lent_to(config["User"], [jobdir / "out"], [jobdir]):
            container = create_container(client, config)
            killed = timed_out = False
            try:
                client.api.start(container)
                while True:
                    state = client.api.inspect_container(container)["State"]
                    if not state.get("Running"):
                        break
                    if kill_when is not None and not killed and kill_when(jobdir):
                        client.api.kill(container, signal="SIGKILL")
                        killed = True
                    if time.monotonic() - started > timeout:
                        client.api.kill(container, signal="SIGKILL")
                        timed_out = True
                    time.sleep(self.poll)
                output = client.api.logs(container, tail=5).decode("utf-8", "replace")
                code = None if killed or timed_out else int(state.get("ExitCode", 1))
            finally:
                client.api.remove_container(container, force=True)
        return Ended(code, killed, timed_out, time.monotonic() - started, output.strip())


def target_for(text: str) -> Target:
    """What `--runner` names: `local` (this dlpk's entrypoint), `docker:IMAGE`, a command
    (its first word an executable), or else an image name."""
    if text == "local":
        return CommandTarget((sys.executable, "-m", "dlpk.runners"))
    if text.startswith("docker:"):
        image = text.removeprefix("docker:")
        if not image:
            raise UsageError("--runner docker: names no image", "e.g. --runner docker:IMAGE")
        return ImageTarget(image)
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"--runner {text!r}: {exc}") from None
    if not argv:
        raise UsageError("--runner names nothing", "pass a command or docker:IMAGE")
    first = argv[0]
    if shutil.which(first) or (os.sep in first and Path(first).is_file()):
        return CommandTarget(argv)
    if len(argv) == 1:
        return ImageTarget(first)
    raise UsageError(
        f"--runner {text!r}: {first} is not an executable command",
        "name a command on PATH (or its path), or an image as docker:IMAGE",
    )
