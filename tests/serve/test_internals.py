"""The service's parts that need no server: paths under roots, the tool form's arguments, the
schema's migrations."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlpk.errors import InputNotFoundError, UsageError
from dlpk.serve.arguments import _TOOL_ARGUMENTS, function_parameters
from dlpk.serve.migrations import LATEST, migrate
from dlpk.serve.paths import PathRefusedError, server_path
from dlpk.serve.store import Store


def test_server_paths(tmp_path: Path) -> None:
    root = (tmp_path / "root").resolve()
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.tif").write_bytes(b"x")
    (tmp_path / "secret.tif").write_bytes(b"x")
    (root / "out.tif").symlink_to(tmp_path / "secret.tif")
    (root / "in.tif").symlink_to(root / "sub" / "a.tif")
    assert server_path("sub/a.tif", [root]) == root / "sub" / "a.tif"
    assert server_path(str(root / "sub" / "a.tif"), [root]) == root / "sub" / "a.tif"
    assert server_path("in.tif", [root]) == root / "sub" / "a.tif"  # a link inside is fine
    outside = str(tmp_path / "secret.tif")
    for refused in ("out.tif", "../secret.tif", "sub/../../secret.tif", outside, "sub\\..\\x"):
        with pytest.raises(PathRefusedError):
            server_path(refused, [root])
    with pytest.raises(InputNotFoundError):
        server_path("sub/missing.tif", [root])
    with pytest.raises(PathRefusedError, match="no server-side paths"):
        server_path("sub/a.tif", [])
    with pytest.raises(UsageError):
        server_path("a\x00b", [root])


def test_function_parameters_read_without_running() -> None:
    source = b"""
import os
os.system("touch /tmp/never")  # never run: only read
class Trees:
    def getParameterInfo(self):
        return [
            {"name": "raster", "dataType": "raster", "required": True},
            {"name": "threshold", "dataType": "numeric", "value": 0.4,
             "displayName": "Confidence", "description": "lowest kept"},
            {"name": "mode", "dataType": "string", "value": "fast", "domain": ("fast", "exact")},
            {"name": "computed", "value": compute()},
        ]
"""
    found = {p["name"]: p for p in function_parameters(source)}
    assert set(found) == {"threshold", "mode", "computed"}
    assert found["threshold"]["defaultValue"] == 0.4
    assert found["threshold"]["displayName"] == "Confidence"
    assert found["mode"]["choices"] == ["fast", "exact"]
    assert found["computed"]["defaultValue"] is None
    assert function_parameters(b"def (:") == []


def test_tool_arguments_match_the_runner() -> None:
    from dlpk.runners.tasks.inference.arguments import DETECTOR_ARGUMENTS, PIXEL_ARGUMENTS
    from dlpk.runners.tasks.inference.object_labels import OBJECT_ARGUMENTS

    def names(task: str) -> set[str]:
        return {row[0] for row in _TOOL_ARGUMENTS[task]}

    assert names("ClassifyPixelsUsingDeepLearning") == set(PIXEL_ARGUMENTS)
    assert names("DetectObjectsUsingDeepLearning") == set(DETECTOR_ARGUMENTS) - {"score_threshold"}
    assert names("ClassifyObjectsUsingDeepLearning") == set(OBJECT_ARGUMENTS)


def test_migrations_apply_once_and_refuse_a_newer_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = Store(url, tmp_path)
    assert store.version == LATEST
    assert migrate(store.engine) == LATEST  # again: nothing to do
    with store.engine.begin() as connection:
        from dlpk.serve.database import schema_version

        rows = list(connection.execute(schema_version.select()))
        assert [r.version for r in rows] == [LATEST]
        connection.execute(schema_version.insert().values(version=LATEST + 1, applied="later"))
    with pytest.raises(UsageError, match="newer than this dlpk"):
        migrate(store.engine)
    store.close()
