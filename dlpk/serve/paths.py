"""Server-side paths a request names: accepted only inside the allowed roots (`--root`), with
no `..` and no symbolic link that leads out, so a client cannot read the server's files."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from dlpk.errors import InputNotFoundError, UsageError


class PathRefusedError(UsageError):
    """A path outside the allowed roots (HTTP 403)."""


def server_path(text: str, roots: list[Path]) -> Path:
    """The real path of `text` (absolute, or relative to a root), which must exist inside one
    of `roots` once every link is followed."""
    if not roots:
        raise PathRefusedError(
            f"{text!r}: this server takes no server-side paths",
            "upload the file, or start dlpk serve with --root FOLDER",
        )
    if not text or "\x00" in text:
        raise UsageError("an empty path, or one holding a NUL character")
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        raise PathRefusedError(f"{text!r}: '..' is not allowed in a path", "name the file itself")
    given = Path(text)
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        real = Path(os.path.realpath(candidate))
        inside = any(real == root or real.is_relative_to(root) for root in roots)
        if not inside:  # absolute outside, or a link on the way leads out
            raise PathRefusedError(
                f"{text!r} is outside the allowed roots",
                f"name a file under {', '.join(str(r) for r in roots)}",
            )
        if real.exists():
            return real
    raise InputNotFoundError(
        f"{text!r}: no such file under the allowed roots",
        f"the roots are {', '.join(str(r) for r in roots)}",
    )
