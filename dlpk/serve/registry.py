"""Model items: a package comes in (an upload or a server-side path), is linted (refused with
its diagnostics when it has errors), stored once by content hash, described as `dlpk inspect`
describes it, and numbered as the next version of its name."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from dlpk import api
from dlpk.atomic import sha256_file
from dlpk.errors import PackageError
from dlpk.serve.arguments import model_tasks, tool_arguments
from dlpk.serve.store import Store, now

FUNCTION_SOURCE_LIMIT = 1 << 20  # a raster function read for its parameters, at most 1 MiB


class PackageRefusedError(PackageError):
    """A package with lint errors (HTTP 422, with its diagnostics)."""

    def __init__(self, message: str, diagnostics: list[dict[str, Any]]) -> None:
        super().__init__(message, "fix them (`dlpk lint`, `dlpk fix`) and upload again")
        self.diagnostics = diagnostics


def diagnostic_json(diagnostic: Any, source: Path, filename: str) -> dict[str, Any]:
    """A diagnostic as JSON, located in the sender's file rather than the server's copy."""
    return {
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message.replace(str(source), filename),
        "location": diagnostic.location.replace(str(source), filename),
    }


def register_package(
    store: Store, source: Path, filename: str, name: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Lint, store and record the package at `source` (named `filename` by its sender); returns
    the row and whether it is new (the same bytes under the same name are the same item)."""
    if not filename.lower().endswith(".dlpk"):
        raise PackageError(f"{filename}: not a .dlpk", "upload a deep learning package (.dlpk)")
    report = api.lint(source)
    diagnostics = [diagnostic_json(d, source, filename) for d in report.diagnostics]
    if report.errors:
        raise PackageRefusedError(
            f"{filename}: {len(report.errors)} lint error(s); the package was not registered",
            diagnostics,
        )
    description = api.inspect(source)
    digest = sha256_file(source)
    item_name = name or description.get("model_name") or Path(filename).stem
    item_name = str(item_name).strip()[:200] or Path(filename).stem
    existing = store.same_model(item_name, digest)
    if existing is not None:
        return existing, False
    stored = _store_bytes(store.data, source, digest)
    description["path"] = filename  # the sender's name, not the server's
    arguments = tool_arguments(description, _function_source(stored, description))
    row = {
        "id": uuid.uuid4().hex[:16],
        "name": item_name,
        "version": store.next_version(item_name),
        "sha256": digest,
        "size": stored.stat().st_size,
        "created": now(),
        "path": str(stored.relative_to(store.data)),
        "search": " ".join(_search_words(item_name, description)).lower(),
        "description": description,
        "lint": {
            "ok": report.ok,
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "diagnostics": diagnostics,
        },
        "arguments": arguments,
    }
    for _ in range(10):  # two uploads of one name at once: the second takes the next number
        try:
            return store.add_model(row), True
        except IntegrityError:
            row["version"] = store.next_version(item_name)
    raise PackageError(f"{item_name}: could not number a new version", "upload it again")


def remove_package(store: Store, row: dict[str, Any]) -> None:
    """Forget an item; its bytes go once no other item has the same hash."""
    store.delete_model(row["id"])
    if not store.sha_in_use(row["sha256"]):
        with contextlib.suppress(OSError):
            (store.data / row["path"]).unlink()


def model_item(row: dict[str, Any]) -> dict[str, Any]:
    """The REST shape of a model item."""
    description = row["description"]
    return {
        "id": row["id"],
        "name": row["name"],
        "version": row["version"],
        "sha256": row["sha256"],
        "size": row["size"],
        "created": row["created"],
        "lint": row["lint"],
        "modelType": description.get("model_type"),
        "framework": description.get("framework"),
        "configuration": description.get("configuration"),
        "tasks": model_tasks(description),
        "classes": description.get("classes", []),
        "arguments": row["arguments"],
        "description": description,
    }


def _store_bytes(data: Path, source: Path, digest: str) -> Path:
    """data/models/<sha256>.dlpk, written once: a copy into place under a temporary name."""
    folder = data / "models"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}.dlpk"
    if not target.exists():
        partial = folder / f".{digest}.{os.getpid()}.part"
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    return target


def _function_source(package: Path, description: dict[str, Any]) -> bytes | None:
    """The InferenceFunction's Python source, when the package holds it (lint has checked the
    archive's names and sizes already)."""
    function = description.get("inference_function")
    if not isinstance(function, str) or not function.endswith(".py"):
        return None
    from dlpk.validator.safezip import read_member

    try:
        with zipfile.ZipFile(package) as archive:
            return read_member(archive, function, FUNCTION_SOURCE_LIMIT)
    except (KeyError, OSError, zipfile.BadZipFile, PackageError):
        return None


def _search_words(name: str, description: dict[str, Any]) -> list[str]:
    words = [name]
    for key in ("model_name", "model_type", "framework", "configuration"):
        if description.get(key):
            words.append(str(description[key]))
    words += [str(c.get("name")) for c in description.get("classes", []) if c.get("name")]
    return words
