"""Tasks by the name job.json gives them. A task never knows which backend runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlpk.runners.progress import Progress
from dlpk.runners.tasks import export_chips

TaskFn = Callable[[Any, Path, Progress], export_chips.ExportReport]

TASKS: dict[str, TaskFn] = {
    "export_chips": export_chips.run_job,
}
