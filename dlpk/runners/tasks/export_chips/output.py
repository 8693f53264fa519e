"""The export folder before any chip is made: refuse to touch a user's files, clear our own on
--overwrite (only in a folder a dlpk export made), and check on --resume that the folder is an
unfinished export of the same call.

The state file records what identifies the call (inputs and parameters); it stays in the
folder, so a later --resume can tell whether it would finish the same export.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from dlpk.atomic import remove_partials, write_text_atomic
from dlpk.errors import BadInputError
from dlpk.spec.job import ExportChipsParameters

STATE_FILE = ".dlpk-export.json"
ROOT_FILES = ("esri_model_definition.emd", "esri_accumulated_stats.json", "map.txt", "stats.txt")
UNPAIRED = ("A", "B")  # CycleGAN's two exports
OWNED = ("images", "labels", "labels2", "images2", *UNPAIRED, STATE_FILE, *ROOT_FILES)


def run_signature(inputs: dict[str, Any], params: ExportChipsParameters) -> dict[str, Any]:
    """What a resume must match: the inputs and every parameter that shapes the chips (not
    how many workers make them, nor what to do with an existing folder)."""
    return {**inputs, **params.model_dump(exclude={"workers", "resume", "overwrite"})}


def prepare_output(out: Path, signature: dict[str, Any], resume: bool, overwrite: bool) -> None:
    """Never touch a user's files without --overwrite; --resume only into our own export."""
    state = out / STATE_FILE
    if out.exists() and not out.is_dir():
        raise BadInputError(f"output {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if resume:
            _check_resumable(out, signature)
            remove_partials(out)
        elif overwrite:
            if not state.is_file():
                raise BadInputError(
                    f"output folder {out} is not a dlpk export (it has no {STATE_FILE}); "
                    "--overwrite replaces only a previous export",
                    hint="choose a new or empty folder",
                )
            _remove_owned(out)
        else:
            raise BadInputError(
                f"output folder {out} exists and is not empty",
                hint="use --overwrite to replace it or --resume to finish it",
            )
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(state, json.dumps(signature, indent=2) + "\n")


def _check_resumable(out: Path, signature: dict[str, Any]) -> None:
    """A resume finishes an unfinished dlpk export of the same inputs and parameters only."""
    state = out / STATE_FILE
    if not state.exists():
        raise BadInputError(
            f"cannot resume into {out}: it is not an unfinished dlpk export",
            hint="use --overwrite to replace it",
        )
    previous = json.loads(state.read_text(encoding="utf-8"))
    if previous != signature:
        changed = sorted(k for k in signature if previous.get(k) != signature[k])
        raise BadInputError(f"cannot resume into {out}: parameters differ ({', '.join(changed)})")


def _remove_owned(out: Path) -> None:
    """--overwrite removes what an export writes, and nothing else of the folder."""
    for name in OWNED:
        target = out / name
        if target.is_symlink() or target.is_file():
            target.unlink()  # a link is removed, never followed
        elif target.is_dir():
            shutil.rmtree(target)
