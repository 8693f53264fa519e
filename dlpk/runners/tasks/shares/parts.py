"""What the steps of a job run in shares have in common: cutting the plan into ranges, where
part files go, and reading back the shares' results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpk.atomic import write_text_atomic
from dlpk.errors import InvalidJobError
from dlpk.spec.job import PART_FOLDER, JobPart, Result

#: The count of the plan step's result that says how many work units the plan has.
UNITS = "plan_units"


def share_range(units: int, count: int, index: int) -> range:
    """Range `index` of `units` cut into `count` consecutive ranges as even as can be (the
    first `units % count` are one unit longer)."""
    size, extra = divmod(units, count)
    start = index * size + min(index, extra)
    return range(start, start + size + (1 if index < extra else 0))


def batch_range(tiles: int, batch_size: int, count: int, index: int) -> range:
    """The tiles of share `index` of `count`, in whole batches: every batch is the one a run
    of the whole job makes (the same tiles in one forward pass), so the model's output is the
    same."""
    batches = share_range(-(-tiles // batch_size), count, index)
    return range(batches.start * batch_size, min(batches.stop * batch_size, tiles))


def part_folder(jobdir: Path) -> Path:
    """A share's part files, in its own job directory."""
    folder = jobdir / PART_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Share:
    """A finished share, as the assemble step reads it."""

    index: int
    parts: Path
    result: Result


def finished_shares(jobdir: Path, part: JobPart) -> list[Share]:
    """Every share's part files and result, in order; each must have finished."""
    shares = []
    for index in range(part.count):
        folder = jobdir / part.shares / str(index)
        path = folder / "out" / "result.json"
        try:
            result = Result.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InvalidJobError(f"share {index} of {part.count} has no result ({path})") from None
        if result.status != "done":
            raise InvalidJobError(f"share {index} of {part.count} failed; nothing to assemble")
        shares.append(Share(index, folder / PART_FOLDER, result))
    return shares


def merged_counts(
    shares: list[Share], start: dict[str, int], skip: tuple[str, ...] = ()
) -> dict[str, int]:
    """The shares' counts (but those in `skip`) added to `start`, keys in the order they
    first appear."""
    counts = dict(start)
    for share in shares:
        for key, value in share.result.counts.items():
            if key not in skip:
                counts[key] = counts.get(key, 0) + value
    return counts


def new_warnings(shares: list[Share], known: list[str]) -> list[str]:
    """The shares' warnings not already in `known`, each once, in order."""
    found = list(known)
    for share in shares:
        found += [w for w in share.result.warnings if w not in found]
    return found[len(known) :]


def write_json(path: Path, value: Any) -> None:
    write_text_atomic(path, json.dumps(value) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidJobError(f"part file {path} is unreadable ({exc})") from None
