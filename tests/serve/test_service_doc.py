"""docs/service.md stays true: its Python example runs against a real server, and its REST
reference names every route of the service's own (the page's are in its own docs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.serve.service import TOKEN, Service

DOC = REPO / "docs" / "service.md"
TEXT = DOC.read_text(encoding="utf-8")


def test_the_python_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", TEXT, re.S)
    assert len(blocks) == 1
    service = Service(tmp_path / "data", [REPO / "examples"]).start()
    try:
        code = blocks[0].replace("http://127.0.0.1:8080", service.url)
        (tmp_path / "examples").symlink_to(REPO / "examples")
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
            timeout=300, env=os.environ | {"DLPK_TOKEN": TOKEN},
        )  # fmt: skip
    finally:
        service.stop()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == ["esriJobSucceeded classes.tif", "esriJobSucceeded ['LandCover']"]
    assert (tmp_path / "classes.tif").is_file() and not (tmp_path / "again.tif").exists()


def test_the_reference_names_every_route() -> None:
    from fastapi.routing import APIRoute

    from dlpk.serve.job_routes import router as jobs
    from dlpk.serve.model_routes import router as models

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path.strip())

    rows = re.findall(r"^\| `(GET|POST|DELETE) ([^`\[]+)", TEXT, re.M)
    documented = {(method, shape(path)) for method, path in rows}
    routes = [r for r in [*models.routes, *jobs.routes] if isinstance(r, APIRoute)]
    assert len(routes) >= 10
    for route in routes:
        for method in route.methods:
            assert (method, shape(route.path)) in documented, (method, route.path)
    assert ("GET", "/health") in documented
