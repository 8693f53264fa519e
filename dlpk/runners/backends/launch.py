"""Turning a command line into a job directory that any backend can run.

Large inputs are referenced, never copied: each input's folder and the output folder are
*mounts* of the job. The local backend realises a mount as a symbolic link inside the job
directory; the Docker backend as a bind mount (read-only for inputs and the model).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.errors import BadInputError
from dlpk.remote import is_remote
from dlpk.runners.io.checkpoint import FOLDER as CHECKPOINT_FOLDER
from dlpk.runners.io.checkpoint import writer_alive
from dlpk.scratch import leftovers, remove_leftovers, scratch_folder, take_over


@dataclass(frozen=True)
class Mount:
    source: Path  # on the host
    target: str  # relative to the job directory, forward slashes
    read_only: bool


@dataclass
class PreparedJob:
    """A job directory with its job.json, and the host folders the job needs mounted."""

    jobdir: Path
    job: dict[str, Any]
    mounts: list[Mount] = field(default_factory=list)
    created_outputs: list[Path] = field(default_factory=list)
    owned: bool = True  # a scratch directory we made (not a user's hand-written job)
    framework: str | None = None  # the model's .emd Framework (picks a runner image)

    def host_paths(self, message: str) -> str:
        """Rewrite job paths in a message (`/job/in/0/x.tif`) as the user's own paths."""
        for mount in sorted(self.mounts, key=lambda m: -len(m.target)):
            for prefix in (f"{self.jobdir}/{mount.target}", f"/job/{mount.target}"):
                message = message.replace(prefix, str(mount.source))
        return message

    def cleanup(self, succeeded: bool) -> None:
        """Remove the scratch job directory, and output folders we created that stayed empty."""
        if not self.owned:
            return
        shutil.rmtree(self.jobdir, ignore_errors=True)
        if not succeeded:
            for folder in self.created_outputs:
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()


class JobBuilder:
    """Collects inputs, outputs and parameters, then writes a job directory."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.inputs: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.parameters: dict[str, Any] = {}
        self.model: str | None = None
        self.framework: str | None = None
        self.mounts: list[Mount] = []
        self.created: list[Path] = []
        self._folders: dict[Path, str] = {}

    def _mount_folder(self, folder: Path) -> str:
        folder = folder.resolve()
        if folder not in self._folders:
            target = f"in/{len(self._folders)}"
            self._folders[folder] = target
            self.mounts.append(Mount(folder, target, read_only=True))
        return self._folders[folder]

    def add_input(self, name: str, path: Path) -> None:
        """Reference `path` through a read-only mount of its folder (sidecar files come along).
        A folder input is resolved first: "." or "tiles/.." has no name of its own. A raster
        GDAL reads over the network (dlpk/remote.py) is named as it is, never mounted."""
        if is_remote(path):
            self.inputs[name] = str(path)
            return
        if path.is_dir():
            path = path.resolve()
        self.inputs[name] = f"{self._mount_folder(path.parent)}/{path.name}"

    def set_model(
        self, folder: Path, emd_name: str | None = None, framework: str | None = None
    ) -> None:
        """Mount the unpacked model read-only; job.model names its .emd (or the folder)."""
        self.model = f"model/{emd_name}" if emd_name else "model"
        self.framework = framework
        self.mounts.append(Mount(folder.resolve(), "model", read_only=True))

    def add_output(self, name: str, staging: Path, filename: str) -> None:
        """An output file written into `staging` (mounted as out/result) as `filename`."""
        self.outputs[name] = f"out/result/{filename}"
        self.mounts.append(Mount(staging.resolve(), "out/result", read_only=False))

    def add_output_folder(self, name: str, folder: Path, target: str) -> None:
        if not folder.exists():
            folder.mkdir(parents=True)
            self.created.append(folder)
        self.outputs[name] = target
        self.mounts.append(Mount(folder.resolve(), target, read_only=False))

    def write(self) -> PreparedJob:
        jobdir = scratch_folder("dlpk-job-")
        job: dict[str, Any] = {"apiVersion": "dlpk/v1", "task": self.task, "inputs": self.inputs}
        if self.model is not None:
            job["model"] = self.model
        job["parameters"] = self.parameters
        job["outputs"] = self.outputs
        (jobdir / "out").mkdir()
        (jobdir / "job.json").write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
        return PreparedJob(
            jobdir, job, list(self.mounts), list(self.created), framework=self.framework
        )


def link_mounts(prepared: PreparedJob) -> None:
    """The local realisation of mounts: symbolic links inside the job directory."""
    for mount in prepared.mounts:
        link = prepared.jobdir / mount.target
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(mount.source, target_is_directory=mount.source.is_dir())


def make_mountpoints(prepared: PreparedJob) -> None:
    """Empty folders where bind mounts land (the job directory itself is mounted read-only)."""
    for mount in prepared.mounts:
        (prepared.jobdir / mount.target).mkdir(parents=True, exist_ok=True)


def staging_folder(output: Path, resume: bool = False) -> Path:
    """A fresh hidden folder beside `output`: same file system, so delivery is a rename (what a
    killed run of the same output left there is removed first). With `resume`, the newest
    such folder holding a checkpoint is taken over instead, renamed as this process's."""
    output.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = f".{output.name}.", ".dlpk"
    interrupted = _interrupted(output, prefix, suffix) if resume else None
    if interrupted is None:
        return scratch_folder(prefix, output.parent, suffix)
    fresh = take_over(interrupted, prefix, suffix)
    remove_leftovers(output.parent, prefix, suffix)
    return fresh


def _interrupted(output: Path, prefix: str, suffix: str) -> Path | None:
    """The newest staging folder of a stopped run of `output` that holds a checkpoint (this
    process's own count too: a Python caller may resume after an interrupt)."""
    for folder in leftovers(output.parent, prefix, suffix, own=True):
        checkpoint = folder / CHECKPOINT_FOLDER
        if not checkpoint.is_dir():
            continue
        pid = writer_alive(checkpoint)
        if pid is not None:
            raise BadInputError(
                f"the runner of an interrupted run of {output} (pid {pid}) is still writing it",
                hint="wait for it to end or stop it, then pass --resume again",
            )
        return folder
    return None
