"""Starting the service: the app on uvicorn, with the address and token said first."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from dlpk.errors import UsageError
from dlpk.serve.settings import Settings

EXTRA = "pip install 'dlpk[serve]'"
#: import name -> the package that provides it
NEEDED = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "multipart": "python-multipart",
    "sqlalchemy": "sqlalchemy",
    "httpx": "httpx",
}


def check_installed(database_url: str) -> None:
    """The serve extra's packages (psycopg only for PostgreSQL), named when missing."""
    needed = dict(NEEDED)
    if database_url.startswith("postgres"):
        needed["psycopg"] = "psycopg[binary]"
    missing = [package for module, package in needed.items() if not _importable(module)]
    if missing:
        raise UsageError(f"dlpk serve needs {', '.join(missing)}, not installed", EXTRA)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check(settings: Settings) -> int:
    """Open (create, migrate) the database and close it: what `--check` does; the version."""
    check_installed(settings.database_url)
    from dlpk.serve.store import Store

    store = Store(settings.database_url, settings.data)
    try:
        return store.version
    finally:
        store.close()


def serve(settings: Settings, say: Callable[[str], None], token_generated: bool) -> None:
    """Run until stopped (Ctrl-C, SIGTERM); the queue's running jobs are stopped on the way
    out and queued again at the next start."""
    check_installed(settings.database_url)
    import uvicorn

    from dlpk.serve.app import create_app

    app = create_app(settings)
    say(f"dlpk serve: http://{_host(settings.host)}:{settings.port}/ (data in {settings.data})")
    if token_generated:
        say(f"dlpk serve: token for writes (Authorization: Bearer ...): {settings.token}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
