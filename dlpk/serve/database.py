"""The service's tables (SQLAlchemy Core) and the engine for a URL: SQLite by default,
PostgreSQL through psycopg 3. Values the page or a client reads as a whole (a description,
messages, results) are JSON text, so both databases hold them the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)

from dlpk.errors import UsageError

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied", String(40), nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", Integer, nullable=False),
    Column("created", String(40), nullable=False),
    Column("path", Text, nullable=False),  # the stored package, relative to --data
    Column("search", Text, nullable=False),  # lower-case name and description words
    Column("description", Text, nullable=False),  # JSON: what `dlpk inspect` says
    Column("lint", Text, nullable=False),  # JSON: ok, counts, diagnostics
    Column("arguments", Text, nullable=False),  # JSON: the tool form's arguments
    UniqueConstraint("name", "version", name="uq_models_name_version"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("task", String(80), nullable=False),
    Column("status", String(40), nullable=False, index=True),
    Column("model_id", String(32)),
    Column("submitted", String(40), nullable=False, index=True),
    Column("started", String(40)),
    Column("finished", String(40)),
    Column("request", Text, nullable=False),  # JSON: the API call the worker makes
    Column("messages", Text, nullable=False),  # JSON list of ArcGIS job messages
    Column("progress", Text),  # JSON: stage, done, total
    Column("results", Text, nullable=False),  # JSON: param -> {path, dataType}
    Column("attempts", Integer, nullable=False, default=0),
    Column("worker_pid", Integer),
    Column("cancel_requested", Boolean, nullable=False, default=False),
)


def engine_for(url: str) -> Engine:
    """An engine for `url`: `sqlite:///FILE` (WAL, waits for locks) or `postgresql://...`
    (through psycopg 3, whichever driver the URL names)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith("postgresql+psycopg://"):
        raise UsageError(
            f"--database {url.split('://', 1)[0]}://...: not a database dlpk serves from",
            "use postgresql://USER@HOST/DB, or leave --database out for SQLite in --data",
        )
    # the request threads and the queue's job threads share it
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
