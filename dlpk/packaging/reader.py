"""Reading the .emd out of a package (central directory only, the .emd member alone)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from dlpk.errors import PackageError
from dlpk.validator.lint import regular_file_size
from dlpk.validator.package_rules import locate_emd
from dlpk.validator.safezip import MemberInfo, member_infos, read_member, resolve_member


@dataclass(frozen=True)
class PackageEmd:
    member: str  # the .emd's name as stored in the zip (what a rewrite replaces)
    base: str  # folder inside the zip holding the .emd ("" = root), as a member path
    data: bytes
    infos: list[MemberInfo]

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.infos]  # member paths: the names extraction writes


def read_package_emd(path: Path) -> PackageEmd:
    regular_file_size(path)  # a FIFO or device named .dlpk is refused, never opened
    try:
        with zipfile.ZipFile(path) as archive:
            infos = member_infos(archive)
            location, _ = locate_emd(infos, str(path))
            if location is None:
                raise PackageError(f"{path} holds no usable .emd", f"run `dlpk lint {path}`")
            # the member lint reads for this path (of duplicates, the one unzipping leaves)
            member = resolve_member(archive, location.member)
            if member.flag_bits & 0x1:
                raise PackageError(
                    f"{path}: {member.filename} is encrypted; ArcGIS cannot read it either",
                    "repack the package without a password",
                )
            stored = member.filename
            return PackageEmd(stored, location.base, read_member(archive, stored), infos)
    except PackageError:
        raise  # already one line about this package (a ValueError too: not a zip failure)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise PackageError(f"{path} is not a readable zip archive ({exc})") from exc
