"""The job directories of a job run in shares: one per step (plan, each share, assemble), in a
work folder on the output's file system, so that every node sees them under the same path.

Each holds the job's job.json with its `parameters.part`, and links to what the job reads:
the realised mounts' sources (the user's inputs, the model) or, for a job directory written by
hand, its own entries. The plan step and the shares have an out/ of their own (their result,
log, progress and part files); an output folder a task writes in place (an export's chips) is
linked into it. The assemble step's out/ is the job's own: its result is the job's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dlpk.runners.backends.launch import Mount, PreparedJob
from dlpk.spec.job import JOB

#: Outputs of the job contract that are folders, which a share may write in place.
FOLDER_OUTPUTS = ("out_folder", "out_classified_folder")
#: The prefix of a work folder (kept out of the views of a job directory written by hand).
WORK_PREFIX = ".dlpk-ray-"
#: The scratch folder dlpk unpacks a .dlpk into: in the temporary folder, which other nodes
#: do not see, so the work folder gets a copy.
UNPACKED_PREFIX = "dlpk-model-"


class Views:
    """Makes the step directories of one job in `work`."""

    def __init__(
        self, prepared: PreparedJob, work: Path, job: dict[str, Any] | None = None
    ) -> None:
        self.prepared = prepared
        self.work = work
        # what every step's job.json holds, with its own `parameters.part` (default: the job's)
        self.job: dict[str, Any] = (
            job
            if job is not None
            else json.loads((prepared.jobdir / "job.json").read_text(encoding="utf-8"))
        )
        self.links = self._links()

    def make(self, name: str, part: dict[str, Any], main_out: bool = False) -> Path:
        """The job directory of one step; `main_out` links out/ to the job's own."""
        folder = self.work / name
        folder.mkdir(parents=True)
        job = json.loads(json.dumps(self.job))
        parameters = job.get("parameters")
        job["parameters"] = {**(parameters if isinstance(parameters, dict) else {}), "part": part}
        for target, source in self.links:
            if main_out and (target == "out" or target.startswith("out/")):
                continue
            link = folder / target
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source, target_is_directory=source.is_dir())
        if main_out:
            (folder / "out").symlink_to(self.prepared.jobdir / "out", target_is_directory=True)
        else:
            (folder / "out").mkdir(exist_ok=True)
        (folder / "job.json").write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
        return folder

    def _links(self) -> list[tuple[str, Path]]:
        """(target in a step directory, what it points to), outer folders first."""
        prepared = self.prepared
        links = [(m.target, self._source(m)) for m in prepared.mounts]
        mounted = {m.target.split("/", 1)[0] for m in prepared.mounts}
        for entry in sorted(prepared.jobdir.iterdir()):
            name = entry.name
            if name in mounted or name in ("job.json", "out") or name.startswith(WORK_PREFIX):
                continue
            links.append((name, entry.resolve()))
        for key, value in self._outputs().items():
            if key not in FOLDER_OUTPUTS or not isinstance(value, str):
                continue
            if any(value == t or value.startswith(f"{t}/") for t, _ in links):
                continue  # a mount already brings it
            folder = prepared.jobdir / value
            folder.mkdir(parents=True, exist_ok=True)
            links.append((value, folder.resolve()))
        return sorted(links, key=lambda link: link[0].count("/"))

    def _outputs(self) -> dict[str, Any]:
        """The job's outputs, defaults included; those it names when job.json is invalid
        (the plan step then says what is wrong with it)."""
        try:
            return JOB.validate_python(self.job).outputs.model_dump()
        except ValidationError:
            outputs = self.job.get("outputs")
            return outputs if isinstance(outputs, dict) else {}

    def _source(self, mount: Mount) -> Path:
        """A mount's source as every node sees it: a package unpacked for this run is copied
        beside the output; anything else the user named is referenced where it is."""
        source = mount.source
        if mount.target == "model" and source.parent.name.startswith(UNPACKED_PREFIX):
            copy = self.work / "model"
            if not copy.exists():
                shutil.copytree(source, copy, symlinks=True)
            return copy
        return source


def share_paths(message: str, step: Path, jobdir: Path) -> str:
    """A step's paths in a message as the job's own (which the launcher rewrites as the
    user's)."""
    return message.replace(f"{step}/", f"{jobdir}/").replace(str(step), str(jobdir))
