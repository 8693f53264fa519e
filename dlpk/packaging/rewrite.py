"""Rewriting a package with a fixed .emd (and optionally without its top-level folder)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from dlpk.atomic import atomic_path
from dlpk.validator.safezip import unsafe_name_reason


def rewrite_package(
    source: Path,
    target: Path,
    replacements: dict[str, bytes],
    strip_prefix: str = "",
    overwrite: bool = True,
) -> None:
    """Copy every member, replacing the named ones; `strip_prefix` flattens a top folder.

    Member data is streamed, so a multi-GB model file never sits in memory.
    """
    with (
        zipfile.ZipFile(source) as old,
        atomic_path(target, overwrite) as temporary,
        zipfile.ZipFile(temporary, "w") as new,
    ):
        for info in old.infolist():
            if unsafe_name_reason(info.filename) is not None:
                continue  # never propagate an unsafe name; lint reports it
            name = info.filename
            if strip_prefix and name.startswith(strip_prefix):
                name = name[len(strip_prefix) :]
            if not name:
                continue
            clone = zipfile.ZipInfo(name, date_time=info.date_time)
            clone.compress_type = info.compress_type
            clone.external_attr = info.external_attr
            clone.create_system = info.create_system
            if info.filename in replacements:
                new.writestr(clone, replacements[info.filename])
                continue
            if info.is_dir():
                new.writestr(clone, b"")
                continue
            large = info.file_size >= zipfile.ZIP64_LIMIT
            with old.open(info) as src, new.open(clone, "w", force_zip64=large) as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
