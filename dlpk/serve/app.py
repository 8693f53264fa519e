"""The service's app: the database opened (and migrated), the queue started with the app and
stopped with it, the REST routes and the page's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from dlpk.errors import DlpkError
from dlpk.serve.http import BodyLimit, dlpk_error
from dlpk.serve.queue import JobQueue
from dlpk.serve.settings import Settings
from dlpk.serve.store import Store
from dlpk.version import __version__


def create_app(settings: Settings) -> FastAPI:
    """The app for `settings`; its queue runs while the app runs (uvicorn's lifespan)."""
    from dlpk.serve.job_routes import router as job_router
    from dlpk.serve.model_routes import router as model_router
    from dlpk.serve.page import router as page_router

    store = Store(settings.database_url, settings.data)
    queue = JobQueue(store, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        queue.start()
        try:
            yield
        finally:
            queue.stop()
            store.close()

    app = FastAPI(
        title="dlpk serve",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's docs pages load their scripts from a CDN: none here
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.queue = queue
    app.add_exception_handler(DlpkError, dlpk_error)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "schema": store.version}

    app.include_router(model_router)
    app.include_router(job_router)
    app.include_router(page_router)
    return app
