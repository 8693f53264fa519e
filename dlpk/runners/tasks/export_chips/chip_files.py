"""The files of one chip, gathered before any is written: labels with their sidecars first, the
image last, atomically (atomic.write_new_file_atomic), so an image on disk means a finished chip.

Rasters are encoded only when written: on --resume a chip whose files all exist is described
from disk and nothing is encoded again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy.typing as npt
from affine import Affine

from dlpk.atomic import sha256_file, write_new_file_atomic
from dlpk.runners.tasks.export_chips.encode import Colormap, aux_xml, world_file
from dlpk.runners.tasks.export_chips.formats import WORLD_EXT

FileRecord = tuple[str, int, str]  # path relative to the export folder, size, sha256


# Encodes a (bands, rows, cols) array as a raster file: (array, format, transform, CRS, nodata,
# colour table).
Encoder = Callable[
    [npt.NDArray[Any], str, Affine, str | None, float | None, Colormap | None], bytes
]


def sidecars(rel: str, fmt: str, transform: Affine, crs_wkt: str | None) -> list[tuple[str, bytes]]:
    """A raster file's world file and, where the format holds no CRS, its .aux.xml."""
    base = rel.rsplit(".", 1)[0]
    out = [(f"{base}.{WORLD_EXT[fmt]}", world_file(transform).encode())]
    if fmt != "TIFF" and crs_wkt:
        out.append((f"{rel}.aux.xml", aux_xml(crs_wkt).encode()))
    return out


class ChipFiles:
    """The files of one chip, all georeferenced by `transform` in `crs_wkt`, in writing order."""

    def __init__(self, transform: Affine, crs_wkt: str | None, encode: Encoder) -> None:
        self.transform = transform
        self.crs_wkt = crs_wkt
        self.encode = encode
        self.pending: list[tuple[str, bytes | Callable[[], bytes]]] = []
        self.final: str | None = None

    def _raster(
        self,
        array: npt.NDArray[Any],
        fmt: str,
        nodata: float | None,
        colormap: Colormap | None = None,
    ) -> Callable[[], bytes]:
        return partial(self.encode, array, fmt, self.transform, self.crs_wkt, nodata, colormap)

    def _sidecars(self, rel: str, fmt: str) -> list[tuple[str, bytes]]:
        return sidecars(rel, fmt, self.transform, self.crs_wkt)

    def label(
        self, rel: str, band: npt.NDArray[Any], fmt: str, colormap: Colormap | None = None
    ) -> None:
        """A one-band label raster (with the classes' colour table for class labels), then its
        sidecars."""
        self.pending.append((rel, self._raster(band[None], fmt, None, colormap)))
        self.pending += self._sidecars(rel, fmt)

    def text(self, rel: str, data: bytes) -> None:
        """A label that is a text file (annotations): no sidecars."""
        self.pending.append((rel, data))

    def image(
        self, rel: str, array: npt.NDArray[Any], fmt: str, nodata: float | None, final: bool = False
    ) -> None:
        """An image's sidecars, then the image; the `final` one marks the chip complete and
        must come last."""
        self.pending += self._sidecars(rel, fmt)
        self.pending.append((rel, self._raster(array, fmt, nodata)))
        if final:
            self.final = rel

    def write(self, out: Path, resume: bool, made: set[Path]) -> tuple[bool, list[FileRecord]]:
        """Write every file under `out` (whether any was written, and their records); on
        `resume`, a chip whose files all exist is only described. `made` holds the folders
        known to exist, so each is created once."""
        paths = [rel for rel, _ in self.pending]
        if resume and all((out / rel).exists() for rel in paths):
            return False, [_describe(out / rel, rel) for rel in paths]
        files = []
        for rel, payload in self.pending:
            data = payload() if callable(payload) else payload
            target = out / rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            if rel == self.final:
                write_new_file_atomic(target, data)
            else:
                target.write_bytes(data)
            files.append((rel, len(data), hashlib.sha256(data).hexdigest()))
        return True, files


def _describe(path: Path, rel: str) -> FileRecord:
    return rel, path.stat().st_size, sha256_file(path)
