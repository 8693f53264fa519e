"""Rules over a .dlpk archive itself, all decided from its central directory."""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass

from dlpk.validator.diagnostics import Diagnostic, Fix
from dlpk.validator.rules import rule
from dlpk.validator.safezip import (
    MAX_RATIO,
    RATIO_MIN_BYTES,
    MemberInfo,
    overlapping_members,
    unsafe_name_reason,
)


@dataclass(frozen=True)
class EmdLocation:
    """Where the package's .emd is, and the folder its relative paths resolve from."""

    member: str
    base: str


def _diag(code: str, message: str, file: str, member: str | None = None, fix: Fix | None = None):  # type: ignore[no-untyped-def]
    return Diagnostic(code, rule(code).severity, message, file, member=member, fix=fix)


def check_members(infos: list[MemberInfo], file: str, max_total: int) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for info in infos:
        reason = unsafe_name_reason(info.name)
        if reason is not None:
            found.append(_diag("DL705", f"member name {info.name!r} {reason}", file, info.name))
        elif "\\" in info.name:
            found.append(
                _diag(
                    "DL711",
                    f"member name {info.name!r} uses backslashes; repack with `dlpk pack`",
                    file,
                    info.name,
                )
            )
        if info.is_link:
            found.append(
                _diag("DL706", f"member {info.name!r} is a symbolic link", file, info.name)
            )
        if info.encrypted:
            found.append(_diag("DL707", f"member {info.name!r} is encrypted", file, info.name))
        if info.size >= RATIO_MIN_BYTES and info.size > MAX_RATIO * max(info.compressed, 1):
            ratio = info.size / max(info.compressed, 1)
            found.append(
                _diag(
                    "DL709",
                    f"member {info.name!r} expands {ratio:.0f}x ({info.size} bytes): zip bomb?",
                    file,
                    info.name,
                )
            )
    for name, count in Counter(i.name for i in infos).items():
        if count > 1:
            found.append(_diag("DL708", f"member {name!r} appears {count} times", file, name))
    total = sum(i.size for i in infos)
    if total > max_total:
        found.append(
            _diag(
                "DL709",
                f"package content totals {total} bytes, above the {max_total}-byte limit "
                "(raise it with --max-size if this is expected)",
                file,
            )
        )
    for name in overlapping_members(infos):
        found.append(
            _diag("DL709", f"member {name!r} overlaps the next member's data: zip bomb", file, name)
        )
    return found


def locate_emd(infos: list[MemberInfo], file: str) -> tuple[EmdLocation | None, list[Diagnostic]]:
    emds = [i.name for i in infos if i.name.lower().endswith(".emd") and not i.is_dir]
    at_root = [name for name in emds if "/" not in name]
    if len(at_root) == 1:
        return EmdLocation(at_root[0], ""), []
    if len(at_root) > 1:
        listed = ", ".join(sorted(at_root))
        return None, [
            _diag(
                "DL703",
                f"{len(at_root)} .emd files at the root ({listed}); ArcGIS needs exactly one: "
                "remove the stale ones and repack",
                file,
            )
        ]
    tops = {i.name.split("/", 1)[0] for i in infos}
    if len(emds) == 1 and len(tops) == 1 and posixpath.dirname(emds[0]) == next(iter(tops)):
        top = next(iter(tops))
        fix = Fix(f"move every member out of {top}/ to the root", safe=False, action="flatten")
        message = (
            f"the .emd is inside the top-level folder {top}/; ArcGIS looks only at the root: "
            f"zip the folder's contents, not the folder (`dlpk pack {top}`)"
        )
        return EmdLocation(emds[0], top), [_diag("DL704", message, file, emds[0], fix)]
    where = f"; found {', '.join(sorted(emds))} in sub-folders" if emds else ""
    return None, [
        _diag("DL702", f"no .emd at the package root{where}; add the model definition", file)
    ]


def unreferenced_files(
    files: list[str], referenced: set[str], emd_name: str, file: str, member_prefix: str
) -> list[Diagnostic]:
    """Files the .emd never points to, grouped by top-level folder to stay readable."""

    def is_referenced(path: str) -> bool:
        return any(path == ref or path.startswith(ref + "/") for ref in referenced)

    loose = [f for f in files if f != emd_name and not is_referenced(f)]
    folders: Counter[str] = Counter(f.split("/", 1)[0] for f in loose if "/" in f)
    found = []
    for path in loose:
        if "/" not in path:
            found.append(
                _diag(
                    "DL710", f"{path} is never referenced by the .emd", file, member_prefix + path
                )
            )
    for folder, count in sorted(folders.items()):
        found.append(
            _diag(
                "DL710",
                f"{folder}/ ({count} files) is never referenced by the .emd",
                file,
                member_prefix + folder + "/",
            )
        )
    return found
