"""A job run in shares (job.json `parameters.part`), the way a cluster backend runs it.

The plan step checks the job and counts its work units; each share step runs one range of
them (batches of tiling windows, groups of chips) and writes part files to its own out/part/;
the assemble step writes the job's outputs from those part files exactly as one run of the
whole job writes them (docs/cluster.md). Every step is the one entrypoint on a job directory of
its own, so the backend that hands out the shares knows nothing of the tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlpk.errors import InvalidJobError
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.report import TaskReport

TaskFn = Callable[[Any, Path, Progress], TaskReport]

#: Tasks that run in shares, by job.json name: the module holding their three steps.
SHARED_TASKS = {
    "classify_pixels": "dlpk.runners.tasks.shares.pixels",
    "classify_objects": "dlpk.runners.tasks.shares.objects",
    "detect_objects": "dlpk.runners.tasks.shares.detections",
    "export_chips": "dlpk.runners.tasks.shares.chips",
}


def in_parts(tasks: dict[str, TaskFn]) -> dict[str, TaskFn]:
    """Each task as it runs a job: whole, or the step its `parameters.part` names."""
    return {name: _or_part(name, task) for name, task in tasks.items()}


def _or_part(name: str, task: TaskFn) -> TaskFn:
    def run(job: Any, jobdir: Path, progress: Progress) -> TaskReport:
        if getattr(job.parameters, "part", None) is None:
            return task(job, jobdir, progress)
        return run_part(job, jobdir, progress)

    run.__name__ = run.__qualname__ = f"run_{name}"
    run.__doc__ = task.__doc__
    return run


def run_part(job: Any, jobdir: Path, progress: Progress) -> TaskReport:
    """The step of `job` that its parameters.part names."""
    import importlib

    module_name = SHARED_TASKS.get(job.task)
    if module_name is None:
        shared = ", ".join(SHARED_TASKS)
        raise InvalidJobError(
            f"{job.task} does not run in shares (only {shared} do)",
            hint="run it with --backend local or docker",
        )
    module = importlib.import_module(module_name)
    step: TaskFn = getattr(module, job.parameters.part.step)
    return step(job, jobdir, progress)
