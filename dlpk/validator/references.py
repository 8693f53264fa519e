"""One reading of a path an .emd names (ModelFile, ModelFiles, InferenceFunction, ...), shared
by lint and the runner, so a path lint finds is the file the runner opens.

ArcGIS joins a relative path to the .emd's folder (docs/esri-formats.md#keys-and-paths) on Windows,
where `\\` separates folders, so `.\\frozen_inference_graph.pb` (Esri's own examples) is
`frozen_inference_graph.pb` beside the .emd; on Linux the backslash would be part of a file name, so
it is read here as a separator. An absolute path (`D:\\test\\model.pb`) only exists on the author's
machine: its tail, else its file name, beside the .emd is the portable file lint proposes. Lookups
go through a `FileIndex` (a folder or a package's members), so they are case-sensitive everywhere.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from enum import Enum

from dlpk.validator.files import (
    FileIndex,
    Found,
    Lookup,
    escapes_root,
    is_absolute_path,
    to_relative_posix,
)

#: Control characters a JSON escape such as `\t` puts where a Windows path meant `\\t`.
CONTROL_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}
NOT_FOUND = Lookup(Found.MISSING)


class Kind(Enum):
    RELATIVE = "relative"  # `.\\a\\b.pb`, `a/b.pb`: under the .emd's folder
    ABSOLUTE = "absolute"  # `D:\\x\\m.pb`, `/x/m.pb`, `\\\\server\\share\\m.pb`
    ESCAPES = "escapes"  # `..\\m.pb`: outside the .emd's folder
    CONTROL = "control"  # holds a control character: a mistyped JSON escape
    EMPTY = "empty"  # "" or "." (the folder itself)


@dataclass(frozen=True)
class Reference:
    """What a path names. `relative` is the folder-relative POSIX path looked up: for an
    absolute path the candidate found beside the .emd, else its file name; `lookup` is that
    path's lookup (MISSING without an index)."""

    raw: str
    kind: Kind
    relative: str = ""
    lookup: Lookup = NOT_FOUND

    @property
    def found(self) -> bool:
        """True when the path names a file or folder under the .emd's folder, letter case
        and all."""
        return self.lookup.found is Found.EXACT


def absolute_candidates(raw: str) -> tuple[str, ...]:
    """Where an absolute path's file may lie beside the .emd: its tail after the drive or root
    (`D:\\test\\m.pb` -> `test/m.pb`), then its file name; never a path outside the folder."""
    tail = to_relative_posix(raw.split(":", 1)[-1].lstrip("\\/"))
    found = (tail, posixpath.basename(tail))
    return tuple(dict.fromkeys(c for c in found if c and not escapes_root(c)))


def read_reference(raw: str, index: FileIndex | None) -> Reference:
    """Read `raw` as ArcGIS does (relative to the .emd's folder, `\\` a separator) and look it
    up in `index`."""
    if any(char in raw for char in CONTROL_ESCAPES):
        return Reference(raw, Kind.CONTROL)
    if is_absolute_path(raw):
        candidates = absolute_candidates(raw)
        for candidate in candidates:
            lookup = _lookup(index, candidate)
            if lookup.found is not Found.MISSING:
                return Reference(raw, Kind.ABSOLUTE, candidate, lookup)
        return Reference(raw, Kind.ABSOLUTE, candidates[-1] if candidates else "")
    relative = to_relative_posix(raw)
    if not relative:
        return Reference(raw, Kind.EMPTY)
    if escapes_root(relative):
        return Reference(raw, Kind.ESCAPES, relative)
    return Reference(raw, Kind.RELATIVE, relative, _lookup(index, relative))


def _lookup(index: FileIndex | None, relative: str) -> Lookup:
    return index.lookup(relative) if index is not None else NOT_FOUND
