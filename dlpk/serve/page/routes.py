"""The page's routes: the HTML page and its bundled script and style, and the map's reads of a
job (its layers, raster tiles, feature GeoJSON). All are reads: no token.

The page is served with a Content-Security-Policy that lets it load and call only this server,
so nothing reaches the internet from it even if a script asked. Tile and GeoJSON routes are
plain functions: FastAPI runs them in its thread pool, where GDAL's reads do not hold up the
event loop.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dlpk.serve.page.grid import is_tile
from dlpk.serve.page.layers import job_layers, model_colours
from dlpk.serve.page.raster_layers import LayerUnavailable
from dlpk.serve.page.state import page_state
from dlpk.serve.page.tools import tools_json
from dlpk.serve.views import JobView, ServiceStore

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
#: Content types of what the bundle holds.
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    ".map": "application/json",
}
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
#: Tiles and layers of a job change only when it is rerun; a minute keeps a map's pans cheap.
CACHE = "private, max-age=60"

router = APIRouter()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _store(request: Request) -> ServiceStore:
    store: ServiceStore = request.app.state.store
    return store


def _job(request: Request, job_id: str) -> JobView | JSONResponse:
    job = _store(request).get_job(job_id)
    return job if job is not None else _error(404, f"no job {job_id!r}")


@cache
def _page() -> bytes:
    return (HERE / "index.html").read_bytes()


@cache
def _bundle() -> dict[str, tuple[bytes, str]]:
    """The bundle's files by name (read once: they ship with the package)."""
    files = sorted(STATIC.iterdir()) if STATIC.is_dir() else []
    return {
        path.name: (path.read_bytes(), TYPES[path.suffix])
        for path in files
        if path.is_file() and path.suffix in TYPES
    }


@router.get("/", include_in_schema=False)
def page() -> Response:
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}
    return Response(_page(), media_type="text/html; charset=utf-8", headers=headers)


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    found = _bundle().get(name)
    if found is None:
        return _error(404, f"no static file {name!r}")
    body, kind = found
    return Response(body, media_type=kind, headers={"Cache-Control": "no-cache"})


@router.get("/page/tools")
def tools() -> dict[str, Any]:
    """The tool dialogs the page draws its forms from."""
    return tools_json()


@router.get("/jobs/{job_id}/layers")
def layers(request: Request, job_id: str) -> Any:
    job = _job(request, job_id)
    if isinstance(job, JSONResponse):
        return job
    model = _store(request).get_model(job.model_id) if job.model_id else None
    return job_layers(page_state(request.app.state), job, model)


@router.get("/jobs/{job_id}/tiles/{name}/{z}/{x}/{y}.png")
def tile(request: Request, job_id: str, name: str, z: int, x: int, y: int) -> Response:
    job = _job(request, job_id)
    if isinstance(job, JSONResponse):
        return job
    path = job.rasters.get(name)
    if path is None:
        return _error(404, f"job {job_id} has no raster {name!r}")
    if not is_tile(z, x, y):
        return _error(404, f"{z}/{x}/{y} is no tile of the Web Mercator grid")
    state = page_state(request.app.state)
    try:
        info = state.rasters.describe(path)
    except LayerUnavailable as why:
        return _error(404, str(why))
    png = state.tiles.tile(info, z, x, y)
    return Response(png, media_type="image/png", headers={"Cache-Control": CACHE})


@router.get("/jobs/{job_id}/features/{name}.geojson")
def features(request: Request, job_id: str, name: str) -> Response:
    job = _job(request, job_id)
    if isinstance(job, JSONResponse):
        return job
    path = job.features.get(name)
    if path is None:
        return _error(404, f"job {job_id} has no feature layer {name!r}")
    model = _store(request).get_model(job.model_id) if job.model_id else None
    try:
        document = page_state(request.app.state).features.geojson(path, model_colours(model))
    except LayerUnavailable as why:
        return _error(404, str(why))
    return Response(document, media_type="application/geo+json", headers={"Cache-Control": CACHE})
