"""Tasks by the name job.json gives them. A task never knows which backend runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlpk.runners.progress import Progress
from dlpk.runners.tasks.export_chips import export
from dlpk.runners.tasks.inference import jobs
from dlpk.runners.tasks.report import TaskReport
from dlpk.runners.tasks.shares import in_parts

TaskFn = Callable[[Any, Path, Progress], TaskReport]

# each runs a whole job, or the step of a job in shares its parameters.part names
TASKS: dict[str, TaskFn] = in_parts(
    {
        "export_chips": export.run_job,
        "classify_pixels": jobs.run_classify_pixels,
        "detect_objects": jobs.run_detect_objects,
        "classify_objects": jobs.run_classify_objects,
    }
)
