"""Rules over one path an .emd names: escapes, absolute paths, backslashes, existence, case.

Where the .emd lives decides what an absolute path means. ArcGIS reads ModelFile as it is when it is
absolute, and Esri's custom-inference guide shows `D:\\test\\...` paths
(docs/esri-formats.md#keys-and-paths): in a loose .emd that is valid on the machine that has the
path (a warning, and looked up when this system can), while inside a package it breaks as soon as
the package is unpacked anywhere else (an error).
"""

from __future__ import annotations

from dlpk.validator.diagnostics import Severity
from dlpk.validator.emitter import Emitter
from dlpk.validator.files import Found, escapes_root, is_absolute_path, to_relative_posix
from dlpk.validator.references import absolute_candidates

_SUSPICIOUS_CONTROL = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def check_path(
    emit: Emitter, pointer: str, raw: str, missing_code: str, referenced: set[str]
) -> str | None:
    """Common path checks; returns the package-relative POSIX path that was looked up."""
    key = pointer.split("/")[1]
    for char, escape in _SUSPICIOUS_CONTROL.items():
        if char in raw:
            fixed = raw.replace(char, "\\" + escape[1])
            fix = emit.value_fix(pointer, fixed, f"write {fixed!r}", safe=False)
            emit.emit(
                "DL111",
                f"{key} contains the escape {escape}: a Windows path needs '\\\\' in JSON",
                pointer,
                fix=fix,
            )
            return None
    if is_absolute_path(raw):
        return _absolute(emit, pointer, key, raw, missing_code, referenced)
    relative = to_relative_posix(raw)
    if "\\" in raw:
        fix = emit.value_fix(pointer, relative, f"write {relative!r}", safe=True)
        emit.emit(
            "DL504",
            f"{key} {raw!r} uses backslashes, which ArcGIS resolves only on Windows",
            pointer,
            fix=fix,
        )
    if escapes_root(relative):
        emit.emit("DL509", f"{key} {raw!r} points outside the model folder", pointer)
        return None
    referenced.add(relative)
    _lookup(emit, pointer, key, raw, relative, missing_code)
    return relative


def _absolute(
    emit: Emitter, pointer: str, key: str, raw: str, missing_code: str, referenced: set[str]
) -> str | None:
    if emit.source.in_package:
        relative = _portable_candidate(emit, raw)
        fix = emit.value_fix(pointer, relative, f"make it relative: {relative!r}", safe=False)
        emit.emit(
            "DL503",
            f"{key} {raw!r} is absolute: it breaks once the package is unpacked elsewhere; "
            "paths are relative to the .emd folder",
            pointer,
            fix=fix,
        )
        if escapes_root(relative):
            return None
        referenced.add(relative)
        _lookup(emit, pointer, key, raw, relative, missing_code)
        return relative
    _loose_absolute(emit, pointer, key, raw, missing_code)
    return None


def _loose_absolute(emit: Emitter, pointer: str, key: str, raw: str, missing_code: str) -> None:
    """A loose .emd's absolute path: valid where it exists, so a warning; a fix only when the
    file is also beside the .emd (making the path relative must not lose the file)."""
    index = emit.source.index
    beside = _relative_candidate(emit, raw)
    found = index.absolute(raw) if index is not None else None
    name = _portable_candidate(emit, raw)
    if beside is not None:
        advice = f"{beside!r} is beside the .emd: write that"
        fix = emit.value_fix(pointer, beside, f"make it relative: {beside!r}", safe=False)
    else:
        shown = f"{name} beside the .emd and write {name!r}" if name else "it beside the .emd"
        advice = f"to share the model, put {shown}"
        fix = None
    unchecked = " (this system cannot look it up)" if found is None and index is not None else ""
    emit.emit(
        "DL503",
        f"{key} {raw!r} is absolute: ArcGIS reads it on a machine that has this path"
        f"{unchecked}, but the model breaks once copied or packaged; {advice}",
        pointer,
        fix=fix,
        severity=Severity.WARNING,
    )
    if found is Found.MISSING:
        emit.emit(missing_code, f"{key} {raw!r} does not exist", pointer)


def _relative_candidate(emit: Emitter, raw: str) -> str | None:
    """The relative path (the absolute one's tail, or its file name) found beside the .emd:
    the reading the runner uses too (validator.references)."""
    index = emit.source.index
    for candidate in absolute_candidates(raw):
        if index is not None and index.lookup(candidate).found is not Found.MISSING:
            return candidate
    return None


def _portable_candidate(emit: Emitter, raw: str) -> str:
    """For an absolute path: the relative path that exists, else the bare file name."""
    found = _relative_candidate(emit, raw)
    if found is not None:
        return found
    candidates = absolute_candidates(raw)
    return candidates[-1] if candidates else ""


def _lookup(emit: Emitter, pointer: str, key: str, raw: str, relative: str, code: str) -> None:
    index = emit.source.index
    if index is None or not relative:
        return
    result = index.lookup(relative)
    where = "in the package" if emit.source.in_package else "beside the .emd"
    if result.found is Found.MISSING:
        emit.emit(code, f"{key} {raw!r} is not {where}", pointer)
    elif result.found is Found.OTHER_CASE and result.actual is not None:
        fix = emit.value_fix(pointer, result.actual, f"write {result.actual!r}", safe=True)
        emit.emit(
            "DL502",
            f"{key} {raw!r} matches {result.actual!r} only ignoring case; Linux servers "
            "will not find it",
            pointer,
            fix=fix,
        )
