"""What `dlpk serve` was started with: one typed object the app, the queue and the routes read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dlpk.errors import UsageError

#: Backends the service may run jobs with (`in-process` runs them in the job's worker process).
SERVICE_BACKENDS = ("local", "docker", "ray", "in-process")


@dataclass(frozen=True)
class Settings:
    """`data` holds the database (SQLite by default), the packages and the jobs; `roots` are the
    only server folders a request may name; every write needs `token`."""

    data: Path
    roots: list[Path] = field(default_factory=list)
    token: str = ""
    database: str | None = None  # None: SQLite in `data`
    backend: str = "local"
    max_jobs: int = 2
    max_queued: int = 100
    max_upload_mb: int = 1024
    host: str = "127.0.0.1"
    port: int = 8080

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data / 'dlpk.db'}"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def make_settings(
    data: Path,
    roots: list[Path] | None = None,
    token: str | None = None,
    **options: object,
) -> Settings:
    """Settings with `data` created, roots resolved (each must be a folder) and a token: the one
    given, or a fresh random one."""
    data = data.expanduser().resolve()
    data.mkdir(parents=True, exist_ok=True)
    resolved: list[Path] = []
    for root in roots or []:
        path = root.expanduser().resolve()
        if not path.is_dir():
            raise UsageError(f"--root {root}: not a folder", "name an existing folder")
        resolved.append(path)
    backend = options.get("backend", "local")
    if backend not in SERVICE_BACKENDS:
        raise UsageError(
            f"unknown backend {backend!r}", f"use one of {', '.join(SERVICE_BACKENDS)}"
        )
    for name in ("max_jobs", "max_queued", "max_upload_mb"):
        value = options.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise UsageError(f"--{name.replace('_', '-')} {value}: must be a positive integer")
    if token is not None and len(token) < 8:
        raise UsageError("--token is too short", "use at least 8 characters")
    chosen = token or secrets.token_urlsafe(24)
    given = {k: v for k, v in options.items() if v is not None}
    return Settings(data=data, roots=resolved, token=chosen, **given)  # type: ignore[arg-type]
