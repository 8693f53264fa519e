"""Rules over a .dlpk archive itself: decided from its central directory, but for DL713, which
reads the local headers and the members' data through."""

from __future__ import annotations

import os
import posixpath
import zipfile
from collections import Counter
from dataclasses import dataclass

from dlpk.validator.diagnostics import Diagnostic, Fix
from dlpk.validator.rules import rule
from dlpk.validator.safezip import (
    MAX_PACKAGE_RATIO,
    MAX_RATIO,
    PACKAGE_RATIO_FLOOR,
    RATIO_MIN_BYTES,
    MemberInfo,
    corrupt_members,
    human_size,
    member_key,
    member_path,
    name_collisions,
    overlapping_members,
    package_budget,
    package_bytes,
    unreadable_members,
    unsafe_name_reason,
)


@dataclass(frozen=True)
class EmdLocation:
    """Where the package's .emd is, and the folder its relative paths resolve from."""

    member: str
    base: str


def _diag(code: str, message: str, file: str, member: str | None = None, fix: Fix | None = None):  # type: ignore[no-untyped-def]
    return Diagnostic(code, rule(code).severity, message, file, member=member, fix=fix)


def _file_size(file: str) -> int | None:
    try:
        return os.path.getsize(file)
    except OSError:
        return None


def unreadable(archive: zipfile.ZipFile, infos: list[MemberInfo], file: str) -> list[Diagnostic]:
    """DL713: members that unzip tools would read otherwise than lint, or not at all. Their
    data is read through (bounded by the package's budget) unless a member is a bomb already."""
    found = unreadable_members(archive)
    budget = package_budget(package_bytes(infos, _file_size(file)))
    declared = sum(info.size for info in infos if not info.is_dir)
    if declared <= budget and not any(_bomb(info) for info in infos):  # else DL709 says why
        found += corrupt_members(archive, budget)
    return [
        _diag("DL713", f"member {name!r} {why}; repack the package", file, _member_path(name))
        for name, why in found
    ]


def _bomb(info: MemberInfo) -> bool:
    return info.size >= RATIO_MIN_BYTES and info.size > MAX_RATIO * max(info.compressed, 1)


def _member_path(name: str) -> str:
    return member_path(name) if unsafe_name_reason(name) is None else name


def check_members(
    infos: list[MemberInfo], file: str, max_total: int, file_size: int | None = None
) -> list[Diagnostic]:
    """The archive rules (DL705-DL709, DL711); `file_size` is the package's size in bytes,
    read from `file` when not given."""
    found: list[Diagnostic] = []
    for info in infos:
        stored = info.stored
        reason = unsafe_name_reason(stored)
        if reason is not None:
            found.append(_diag("DL705", f"member name {stored!r} {reason}", file, stored))
        elif "\\" in stored:
            found.append(
                _diag(
                    "DL711",
                    f"member name {stored!r} uses backslashes; repack with `dlpk pack`",
                    file,
                    info.name,
                )
            )
        if info.is_link:
            found.append(_diag("DL706", f"member {stored!r} is a symbolic link", file, info.name))
        if info.encrypted:
            found.append(_diag("DL707", f"member {stored!r} is encrypted", file, info.name))
        if _bomb(info):
            ratio = info.size / max(info.compressed, 1)
            found.append(
                _diag(
                    "DL709",
                    f"member {stored!r} expands {ratio:.0f}x ({info.size} bytes): zip bomb?",
                    file,
                    info.name,
                )
            )
    found += _duplicates(infos, file)
    found += _totals(
        infos, file, max_total, file_size if file_size is not None else _file_size(file)
    )
    for name in overlapping_members(infos):
        found.append(
            _diag("DL709", f"member {name!r} overlaps the next member's data: zip bomb", file, name)
        )
    return found


def _duplicates(infos: list[MemberInfo], file: str) -> list[Diagnostic]:
    """DL708: members that unpack onto one file, compared as extraction writes them."""
    found = []
    for clash in name_collisions(infos):
        shown = ", ".join(repr(n) for n in clash.names[:4])
        more = f" and {len(clash.names) - 4} more" if len(clash.names) > 4 else ""
        if len(clash.names) == 1:
            message = f"member {clash.names[0]!r} appears {clash.members} times"
        elif clash.folder:
            inside = ", ".join(repr(n) for n in clash.names[1:4])
            message = (
                f"member {clash.names[0]!r} is a file where {inside}{more} need a folder "
                f"{clash.path}/; rename one and repack"
            )
        else:
            message = (
                f"members {shown}{more} all unpack to {clash.path} (names compared without './' "
                "and '//', in Unicode NFC, ignoring case); keep one and repack"
            )
        found.append(_diag("DL708", message, file, clash.path))
    return found


def _totals(
    infos: list[MemberInfo], file: str, max_total: int, file_size: int | None
) -> list[Diagnostic]:
    """DL709 over the whole package: the fixed cap, then the budget its own size allows."""
    total = sum(i.size for i in infos)
    if total > max_total:
        message = (
            f"package content totals {total} bytes, above the {max_total}-byte limit "
            "(raise it with --max-size if this is expected)"
        )
        return [_diag("DL709", message, file)]
    package = package_bytes(infos, file_size)
    budget = package_budget(package, max_total)
    if total <= budget:
        return []
    ratio = total / max(package, 1)
    floor = human_size(PACKAGE_RATIO_FLOOR).split(" (")[0]
    message = (
        f"package content totals {human_size(total)} from {human_size(package)} of "
        f"compressed data ({ratio:.0f}x): zip bomb? Model weights barely compress; at most "
        f"{MAX_PACKAGE_RATIO}x the package's size (or {floor}) is accepted"
    )
    return [_diag("DL709", message, file)]


def _key(name: str) -> str:
    return member_key(name) if unsafe_name_reason(name) is None else name


def locate_emd(infos: list[MemberInfo], file: str) -> tuple[EmdLocation | None, list[Diagnostic]]:
    """Find the .emd by member path (`./model.emd` is at the root): the member returned is a
    `member_path`, the one extraction writes. Names that collide are DL708's to report."""
    emds = [i.name for i in infos if i.name.lower().endswith(".emd") and not i.is_dir]
    emds = list({_key(name): name for name in emds}.values())  # one per unpacked file
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


#: What arcgis.learn's save() writes beside every model and ArcGIS Pro shows in the model's
#: properties, though no .emd key names it: not stray files.
KNOWN_FILES = frozenset({"model_metrics.html"})
KNOWN_FOLDERS = frozenset({"ModelCharacteristics"})


def known_member(path: str) -> bool:
    return path in KNOWN_FILES or (path.split("/", 1)[0] in KNOWN_FOLDERS and "/" in path)


def unreferenced_files(
    files: list[str], referenced: set[str], emd_name: str, file: str, member_prefix: str
) -> list[Diagnostic]:
    """Files the .emd never points to, grouped by top-level folder to stay readable."""

    def is_referenced(path: str) -> bool:
        return any(path == ref or path.startswith(ref + "/") for ref in referenced)

    loose = [f for f in files if f != emd_name and not is_referenced(f) and not known_member(f)]
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
