"""What a classify-pixels run has written so far, so that a killed one finishes from there.

The classified raster is written tile by tile into an uncompressed tiled GeoTIFF; every few
seconds the writer closes it (GDAL flushes its blocks) and only then records the finished tiles
in `state.json` (written atomically). A kill at any moment therefore loses at most the tiles
since the last record, which the next `--resume` runs again: their pixels are rewritten in
place, so the finished raster is the same, byte for byte, as an uninterrupted run's.

A record names what made it (the model, the inputs, the arguments, the tile plan): a resume
with anything different starts afresh instead of mixing two runs in one raster. A finished run
removes its checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.atomic import write_bytes_atomic
from dlpk.scratch import process_alive

FOLDER = ".dlpk-checkpoint"  # beside the output, in its staging folder
STATE = "state.json"
PARTIAL = "partial.tif"
DEFAULT_SECONDS = 2.0  # how often finished tiles are recorded (DLPK_CHECKPOINT_SECONDS)
FOREIGN_WRITER_SECONDS = 60.0


def checkpoint_folder(output: Path) -> Path:
    return output.parent / FOLDER


def file_identity(path: Path, root: Path | None = None) -> list[Any]:
    """A file's or a folder's files' names, sizes and modification times: what tells that an
    input is the one a killed run read (its bytes are not hashed: rasters are large)."""

    def entry(item: Path) -> list[Any]:
        stat = item.stat()
        name = str(item.relative_to(root)) if root is not None else item.name
        return [name, stat.st_size, stat.st_mtime_ns]

    if path.is_dir():
        return [entry(item) for item in sorted(path.rglob("*")) if item.is_file()]
    return [entry(path)] if path.exists() else []


def model_identity(emd: Path) -> str:
    """The .emd's bytes and the package's file names and sizes, as one digest."""
    digest = hashlib.sha256(emd.read_bytes())
    for name, size, _mtime in file_identity(emd.parent, emd.parent):
        digest.update(f"\0{name}\0{size}".encode())
    return digest.hexdigest()


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("DLPK_CHECKPOINT_SECONDS", DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


@dataclass
class Checkpoint:
    """The finished tiles of one run, by their index in the tile plan, and their counts."""

    folder: Path
    signature: dict[str, Any]
    done: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    _last: float = field(default_factory=time.monotonic)

    @property
    def partial(self) -> Path:
        return self.folder / PARTIAL

    @classmethod
    def start(cls, output: Path, signature: dict[str, Any], resume: bool) -> Checkpoint:
        """Take up a matching record with `resume`; otherwise start with none (an old one of
        this output is removed: it can no longer be finished)."""
        folder = checkpoint_folder(output)
        if resume:
            found = cls._read(folder, signature)
            if found is not None:
                return found
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return cls(folder, signature)

    @classmethod
    def _read(cls, folder: Path, signature: dict[str, Any]) -> Checkpoint | None:
        try:
            state = json.loads((folder / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("signature") != signature:
            return None
        if not (folder / PARTIAL).is_file():
            return None
        try:
            done = {int(n) for n in state.get("done", [])}
            counts = {str(k): int(v) for k, v in dict(state.get("counts", {})).items()}
        except (TypeError, ValueError):
            return None
        return cls(folder, signature, done, counts, resumed=True)

    def due(self) -> bool:
        """Whether enough time has passed since the last record to make another."""
        return time.monotonic() - self._last >= _interval()

    def note(self, done: set[int], counts: dict[str, int]) -> None:
        """Tiles whose pixels are written (maybe only in GDAL's cache so far)."""
        self.done, self.counts = set(done), dict(counts)

    def record(self, stopped: bool = False) -> None:
        """Record the noted tiles: the caller has flushed their pixels to disk. A `stopped`
        record names no running writer: the run ended (an error, an interrupt)."""
        state = {
            "signature": self.signature,
            "done": sorted(self.done),
            "counts": self.counts,
            "pid": None if stopped else os.getpid(),
            "pid_namespace": pid_namespace(),
        }
        write_bytes_atomic(self.folder / STATE, json.dumps(state).encode())
        self._last = time.monotonic()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def pid_namespace() -> str:
    """Which process-id space a pid belongs to: a runner in a container records its own."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def writer_alive(folder: Path) -> int | None:
    """The process id recorded in a checkpoint if that process may still run (a runner of an
    interrupted run can outlive its launcher), else None. A pid of another pid namespace (a
    container's) cannot be looked up: a record newer than a minute counts as a live writer."""
    path = folder / STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        pid = int(state["pid"])
        if state.get("pid_namespace", "") != pid_namespace():
            return pid if time.time() - path.stat().st_mtime < FOREIGN_WRITER_SECONDS else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if process_alive(pid) else None
