"""What every route shares: the token check for writes, errors as JSON with the right status,
and the request size limit (checked as the body arrives, not after it is stored)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dlpk.errors import DlpkError, InputNotFoundError
from dlpk.serve.paths import PathRefusedError
from dlpk.serve.registry import PackageRefusedError


class NotFoundError(DlpkError, LookupError):
    """No model item, job or result of that id (HTTP 404)."""


class ConflictError(DlpkError):
    """The request does not fit the item's state, e.g. cancelling a finished job (HTTP 409)."""


class BusyError(DlpkError):
    """The queue is full (HTTP 503)."""


class TokenError(DlpkError, PermissionError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, "send the header Authorization: Bearer TOKEN")
        self.status = status


def require_token(request: Request) -> None:
    """The one check of every write: `Authorization: Bearer <the service's token>`."""
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise TokenError(401, "this request changes the service and needs its token")
    expected: str = request.app.state.settings.token
    if not secrets.compare_digest(given.strip().encode(), expected.encode()):
        raise TokenError(403, "the token is not this service's")


def status_of(exc: DlpkError) -> int:
    if isinstance(exc, TokenError):
        return exc.status
    if isinstance(exc, PathRefusedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, PackageRefusedError):
        return 422
    if isinstance(exc, BusyError):
        return 503
    if isinstance(exc, InputNotFoundError):
        return 400
    return 400


async def dlpk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DlpkError)
    body: dict[str, Any] = {"error": exc.message, "hint": exc.hint}
    if isinstance(exc, PackageRefusedError):
        body["diagnostics"] = exc.diagnostics
    headers = {"WWW-Authenticate": "Bearer"} if status_of(exc) == 401 else None
    return JSONResponse(body, status_code=status_of(exc), headers=headers)


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413: at once when Content-Length says so,
    else as soon as the bytes received pass it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(send, self.limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "error": f"the request is larger than this service takes ({limit // 2**20} MiB)",
            "hint": "start dlpk serve with a larger --max-upload-mb, or register a server path",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
