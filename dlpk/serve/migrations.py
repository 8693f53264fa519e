"""The schema's history: a list of numbered steps, applied in order at start and recorded in
schema_version, so a database made by an older dlpk is brought up to date and a newer one is
refused rather than misread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, select

from dlpk.errors import UsageError
from dlpk.serve.database import jobs, metadata, models, schema_version

Migration = Callable[[Connection], None]


def _initial(connection: Connection) -> None:
    metadata.create_all(connection, tables=[models, jobs])


#: (version, step): append new steps, never edit or renumber one that has shipped.
MIGRATIONS: tuple[tuple[int, Migration], ...] = ((1, _initial),)
LATEST = MIGRATIONS[-1][0]


def migrate(engine: Engine) -> int:
    """Apply the steps the database lacks, each in its own transaction; returns the version."""
    with engine.begin() as connection:
        if not inspect(connection).has_table("schema_version"):
            schema_version.create(connection)
        done = set(connection.scalars(select(schema_version.c.version)))
    newer = {v for v in done if v > LATEST}
    if newer:
        raise UsageError(
            f"the database is at schema version {max(newer)}, newer than this dlpk's {LATEST}",
            "upgrade dlpk, or point --database at another database",
        )
    for version, step in MIGRATIONS:
        if version in done:
            continue
        with engine.begin() as connection:
            step(connection)
            applied = datetime.now(UTC).isoformat(timespec="seconds")
            connection.execute(schema_version.insert().values(version=version, applied=applied))
    return LATEST
