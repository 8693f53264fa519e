"""Reading a request's parameters as ArcGIS clients send them: a JSON object, or form fields
(urlencoded or multipart), with uploaded files saved into a folder of the request's own."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from dlpk.errors import UsageError

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def parameters(request: Request, files_to: Path | None = None) -> dict[str, Any]:
    """The request's parameters by name; an uploaded file's value is its saved path (with
    `files_to` None, a file is refused)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in FORM_TYPES:
        values: dict[str, Any] = {}
        async with request.form(max_files=8, max_fields=200) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    if files_to is None:
                        raise UsageError(f"{name}: a file is not taken here")
                    values[name] = await save_upload(value, files_to)
                else:
                    values[name] = value
        return values
    body = await request.body()
    if not body.strip():
        return dict(request.query_params)
    try:
        document = await request.json()
    except ValueError:
        raise UsageError(
            "the body is neither JSON nor form fields",
            "send application/json, or form fields (multipart/form-data)",
        ) from None
    if not isinstance(document, dict):
        raise UsageError("the JSON body must be an object of parameter names and values")
    return document


async def save_upload(upload: UploadFile, folder: Path) -> Path:
    """Save an uploaded file under its own (sanitised) name in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe_filename(upload.filename or "upload")
    with open(target, "wb") as handle:
        while chunk := await upload.read(1 << 20):
            handle.write(chunk)
    return target


def safe_filename(name: str) -> str:
    """A sender's file name reduced to a plain name: no folders, no leading dots."""
    plain = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name.replace("\\", "/")).name).lstrip(".")
    return plain[:150] or "upload"


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
