"""Lending a job's writable folders to the container's user, and taking them back.

A container never runs as root: when the caller is root, it runs as the images' unprivileged
runner user instead, so the folders it may write (the job's out/, the output staging folder, an
export folder) are handed to that uid for the run, and every entry in them is given back
afterwards: what was there to its previous owner, what the job made to the folder's owner.
Non-root callers run containers as themselves and lend nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

#: The unprivileged user the runner images create (images/*.Dockerfile: useradd --uid 10001).
RUNNER_UID = 10001


def container_user(explicit: str | None) -> str:
    """uid:gid the container runs as: `explicit`, the caller, or the runner user for root."""
    if explicit:
        return explicit
    if os.getuid() == 0:
        return f"{RUNNER_UID}:{RUNNER_UID}"
    return f"{os.getuid()}:{os.getgid()}"


def _walk(root: Path) -> Iterator[Path]:
    yield root
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            yield Path(folder) / name


@contextlib.contextmanager
def lent_to(user: str, writable: list[Path], readable: list[Path]) -> Iterator[None]:
    """For the block, `writable` folders (and all in them) belong to `user`, and the `readable`
    folders (the job's, the model's, those holding inputs: their own modes, not their content's)
    can be entered and listed by it; nothing changes unless this process is root and the
    container user is someone else."""
    uid, gid = (int(part) for part in user.split(":"))
    if os.getuid() != 0 or uid == 0:
        yield
        return
    modes = {path: os.stat(path).st_mode & 0o7777 for path in readable}
    owners: dict[Path, tuple[int, int]] = {}
    tops: dict[Path, tuple[int, int]] = {}
    for root in writable:
        info = os.lstat(root)
        tops[root] = (info.st_uid, info.st_gid)
        for path in _walk(root):
            entry = os.lstat(path)
            owners[path] = (entry.st_uid, entry.st_gid)
            os.chown(path, uid, gid, follow_symlinks=False)
    try:
        for path in readable:
            os.chmod(path, modes[path] | 0o055)  # group and others may enter and read
        yield
    finally:
        for root in writable:
            for path in _walk(root):
                owner = owners.get(path, tops[root])
                with contextlib.suppress(FileNotFoundError):
                    os.chown(path, *owner, follow_symlinks=False)
        for path, mode in modes.items():
            with contextlib.suppress(FileNotFoundError):
                os.chmod(path, mode)
