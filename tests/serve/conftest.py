"""The service's fixtures: the test data (built once), a PostgreSQL server (started once), and
a running `dlpk serve` on each database: SQLite, and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.builders import Data, build
from tests.serve.postgres import Postgres, binaries, start_postgres
from tests.serve.service import Service


def _required() -> bool:
    """CI runs the PostgreSQL suite for real: a missing server fails there, not skips."""
    return bool(os.environ.get("DLPK_REQUIRE_DOCKER") or os.environ.get("CI"))


@pytest.fixture(scope="session")
def serve_data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    pytest.importorskip("torch")
    return build(tmp_path_factory.mktemp("serve-root"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    found = binaries()
    if found is None:
        reason = "PostgreSQL's initdb and postgres are not installed (Debian: postgresql)"
        if _required():
            pytest.fail(reason)
        pytest.skip(reason)
    server = start_postgres(found)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in --data, the default) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    server: Postgres = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture
def service(tmp_path: Path, serve_data: Data, database: str | None) -> Iterator[Service]:
    running = Service(tmp_path / "data", [serve_data.root], database).start()
    try:
        yield running
    finally:
        if running.process is not None:
            running.stop()
