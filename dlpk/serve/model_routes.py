"""REST: model items (`/models`) and uploaded inputs (`/uploads`)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from dlpk.errors import UsageError
from dlpk.serve.bodies import parameters, remove
from dlpk.serve.http import NotFoundError, require_token
from dlpk.serve.paths import server_path
from dlpk.serve.registry import model_item, register_package, remove_package
from dlpk.serve.store import Store, now

router = APIRouter()


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.get("/models")
def list_models(request: Request, q: str | None = None) -> dict[str, Any]:
    return {"models": [model_item(row) for row in _store(request).model_rows(q)]}


@router.get("/models/{model_id}")
def get_model(request: Request, model_id: str) -> dict[str, Any]:
    row = _store(request).model_row(model_id)
    if row is None:
        raise NotFoundError(f"no model item {model_id!r}", "see GET /models")
    return model_item(row)


@router.post("/models", dependencies=[Depends(require_token)])
async def add_model(request: Request) -> JSONResponse:
    """A package uploaded as the multipart field `file`, or a server `path` under a root."""
    store = _store(request)
    incoming = store.data / "incoming" / uuid.uuid4().hex
    try:
        values = await parameters(request, incoming)
        name = values.get("name") if isinstance(values.get("name"), str) else None
        if isinstance(values.get("file"), Path):
            source: Path = values["file"]
            filename = source.name
        elif isinstance(values.get("path"), str):
            source = server_path(values["path"], request.app.state.settings.roots)
            filename = source.name
        else:
            raise UsageError(
                "no package: send the multipart field `file`, or `path` of one on the server"
            )
        row, created = await run_in_threadpool(register_package, store, source, filename, name)
    finally:
        remove(incoming)
    return JSONResponse(model_item(row), status_code=201 if created else 200)


@router.delete("/models/{model_id}", dependencies=[Depends(require_token)])
def delete_model(request: Request, model_id: str) -> Response:
    store = _store(request)
    row = store.model_row(model_id)
    if row is None:
        raise NotFoundError(f"no model item {model_id!r}", "see GET /models")
    remove_package(store, row)
    return Response(status_code=204)


@router.post("/uploads", dependencies=[Depends(require_token)])
async def upload(request: Request) -> JSONResponse:
    """An input file (a raster, a GeoPackage) for jobs to name as {"itemId": ID}."""
    store = _store(request)
    item_id = uuid.uuid4().hex[:16]
    folder = store.data / "uploads" / item_id
    try:
        values = await parameters(request, folder)
        saved = values.get("file")
        if not isinstance(saved, Path):
            raise UsageError("no file: send the multipart field `file`")
    except BaseException:
        remove(folder)  # nothing half-received stays
        raise
    item = {"itemID": item_id, "itemName": saved.name, "size": saved.stat().st_size}
    return JSONResponse({"success": True, "item": item | {"created": now()}}, status_code=201)


def uploaded(data: Path, item_id: str) -> Path:
    """The file uploaded as `item_id`."""
    if not item_id.isalnum():
        raise NotFoundError(f"no upload {item_id!r}")
    folder = data / "uploads" / item_id
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    if not files:
        raise NotFoundError(f"no upload {item_id!r}", "POST the file to /uploads first")
    return files[0]
