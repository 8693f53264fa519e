"""Class names as an export uses them: in the root files, and as folder names where a format keeps
each class's labels or chips in a folder of its name (RCNN_Masks `labels/<Name>/`, Imagenet
`images/<Name>/`, Panoptic_Segmentation `labels2/<Name>/`; arcgis.learn finds the folder by the Name
in `Classes`, docs/esri-formats.md#folder-layout). Such a name must be one folder, the same on every
system, and no two classes may share it.
"""

from __future__ import annotations

from dlpk.errors import BadInputError

#: FormatTraits.labels of the formats that name folders after their classes.
FOLDERS = frozenset({"masks", "folder"})

#: Characters no folder name may hold on Windows (and "/" nowhere).
_UNSAFE = frozenset('<>:"/\\|?*')


def folder_problem(name: str) -> str | None:
    """Why `name` cannot be a folder name, or None when it can."""
    if name in ("", ".", ".."):
        return "is not a folder name"
    if any(char in _UNSAFE or ord(char) < 32 for char in name):
        return 'holds a character folder names cannot (one of <>:"/\\|?* or a control)'
    if name != name.rstrip(". "):
        return "ends in a dot or a space, which Windows drops from folder names"
    return None


def check_class_names(
    classes: dict[int, str], format_name: str, folders: bool, warnings: list[str]
) -> None:
    """Two classes of one name are a warning, or, where names are folders (`folders`), bad
    input, as is a name that cannot be a folder; names are compared case-insensitively there
    (Windows and macOS folders are)."""
    seen: dict[str, int] = {}
    for value, name in classes.items():
        if folders and (problem := folder_problem(name)) is not None:
            raise BadInputError(
                f"class {value}'s name {name!r} {problem}, and {format_name} keeps each class "
                "in a folder of its name",
                hint="rename the class, or pick another name field with --class-name-field",
            )
        key = name.casefold() if folders else name
        if key in seen:
            line = f"classes {seen[key]} and {value} are both named {name!r}"
            if folders:
                raise BadInputError(
                    f"{line}, and {format_name} keeps each class in a folder of its name",
                    hint="give each class its own name",
                )
            warnings.append(line)
        seen.setdefault(key, value)
