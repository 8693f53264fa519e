"""Which .emd a job's model is: job.model names the .emd, or the folder holding exactly one.

The launcher (to lint the model of a hand-written job and pick its image) and the runner (to
open it) read job.model the same way, from here.
"""

from __future__ import annotations

from pathlib import Path

from dlpk.errors import InvalidJobError


def job_model_emd(jobdir: Path, model: str) -> Path:
    path = jobdir / model
    if path.is_dir():
        emds = sorted(path.glob("*.emd"))
        if len(emds) != 1:
            raise InvalidJobError(f"model folder {model} must hold exactly one .emd")
        return emds[0]
    return path
