"""Security on a real server: a token for every write, server paths only inside the roots
(no `..`, no links out, no absolute path elsewhere), a request size limit, no CORS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serve.builders import Data
from tests.serve.service import TOKEN, Service, upload_model

TASK = "/tasks/ClassifyPixelsUsingDeepLearning/submitJob"


@pytest.fixture
def sqlite_service(tmp_path: Path, serve_data: Data) -> Iterator[Service]:
    running = Service(tmp_path / "data", [serve_data.root], None, ("--max-upload-mb", "1"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_every_write_needs_the_token(sqlite_service: Service, serve_data: Data) -> None:
    with sqlite_service.client() as http:
        model = upload_model(http, serve_data.pixels)["id"]
    writes = [
        ("POST", "/models", {"files": {"file": ("p.dlpk", serve_data.pixels.read_bytes())}}),
        ("POST", "/models", {"json": {"path": str(serve_data.pixels)}}),
        ("DELETE", f"/models/{model}", {}),
        ("POST", "/uploads", {"files": {"file": ("s.tif", serve_data.scene.read_bytes())}}),
        ("POST", TASK, {"json": {"inputRaster": "scene.tif", "model": model}}),
        ("POST", "/jobs/jsomething/cancel", {}),
    ]
    for token, status in ((None, 401), ("wrong-token-123", 403), ("Bearer", 401)):
        headers = {"Authorization": f"Bearer {token}"} if token and token != "Bearer" else {}
        if token == "Bearer":
            headers = {"Authorization": f"Basic {TOKEN}"}  # another scheme is no token
        with sqlite_service.client(None) as http:
            for method, url, kwargs in writes:
                answer = http.request(method, url, headers=headers, **kwargs)
                assert answer.status_code == status, (method, url, token, answer.text)
                if status == 401:
                    assert answer.headers["www-authenticate"] == "Bearer"
    with sqlite_service.client(None) as http:  # reads need none
        assert http.get("/models").json()["models"][0]["id"] == model
        assert http.get("/jobs").json() == {"jobs": []}
        assert http.get("/health").json()["status"] == "ok"


def test_server_paths_stay_inside_the_roots(
    sqlite_service: Service, serve_data: Data, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tif").write_bytes(serve_data.scene.read_bytes())
    (outside / "secret.dlpk").write_bytes(serve_data.pixels.read_bytes())
    link = serve_data.root / "link-out.tif"
    folder_link = serve_data.root / "folder-out"
    link.symlink_to(outside / "secret.tif")
    folder_link.symlink_to(outside, target_is_directory=True)
    try:
        with sqlite_service.client() as http:
            model = upload_model(http, serve_data.pixels)["id"]
            refused = [
                "../outside/secret.tif",
                f"{serve_data.root}/../outside/secret.tif",
                "pixels/../../outside/secret.tif",
                str(outside / "secret.tif"),
                "/etc/passwd",
                "link-out.tif",
                str(link),
                "folder-out/secret.tif",
            ]
            for path in refused:
                answer = http.post(TASK, json={"inputRaster": path, "model": model})
                assert answer.status_code == 403, (path, answer.text)
                assert "root" in answer.json()["error"] or ".." in answer.json()["error"]
                answer = http.post(TASK, json={"inputRaster": {"uri": path}, "model": model})
                assert answer.status_code == 403, (path, answer.text)
            for path in (str(outside / "secret.dlpk"), "folder-out/secret.dlpk"):
                assert http.post("/models", json={"path": path}).status_code == 403
            assert http.get("/models").json()["models"][0]["id"] == model  # only the upload
            inside = http.post(TASK, json={"inputRaster": str(serve_data.scene), "model": model})
            assert inside.status_code == 200, inside.text
            bad_upload = http.post(TASK, json={"inputRaster": {"itemId": "../x"}, "model": model})
            assert bad_upload.status_code == 404
    finally:
        link.unlink()
        folder_link.unlink()


def test_request_size_is_limited(sqlite_service: Service, serve_data: Data) -> None:
    big = os.urandom(1024 * 1024 + 10)
    with sqlite_service.client() as http:
        answer = http.post("/uploads", files={"file": ("big.tif", big)})
        assert answer.status_code == 413
        assert "larger than this service takes" in answer.json()["error"]

        boundary = "dlpk-test-boundary"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="big.tif"\r\nContent-Type: image/tiff\r\n\r\n'
            ).encode()
            for start in range(0, len(big), 65536):
                yield big[start : start + 65536]
            yield f"\r\n--{boundary}--\r\n".encode()

        kind = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        streamed = http.post("/uploads", content=chunks(), headers=kind)
        assert streamed.status_code == 413
        assert not list((sqlite_service.data / "uploads").glob("*/*"))
        small = http.post("/uploads", files={"file": ("s.tif", serve_data.scene.read_bytes())})
        assert small.status_code == 201


def test_no_cors(sqlite_service: Service) -> None:
    origin = {"Origin": "http://elsewhere.example"}
    answer = httpx.get(sqlite_service.url + "/models", headers=origin)
    assert "access-control-allow-origin" not in answer.headers
    preflight = httpx.options(
        sqlite_service.url + "/models",
        headers=origin | {"Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code in (405, 400)


def test_a_generated_token_is_printed_and_works(tmp_path: Path, serve_data: Data) -> None:
    service = Service(tmp_path / "data", [], token=None).start()
    try:
        lines = [line for line in service.log().splitlines() if "token for writes" in line]
        assert len(lines) == 1
        token = lines[0].rsplit(" ", 1)[1]
        assert len(token) >= 24 and token != TOKEN
        with service.client(token) as http:
            assert upload_model(http, serve_data.pixels)["name"] == "Pixels"
            # without --root no server path is taken, not even one that exists
            answer = http.post("/models", json={"path": str(serve_data.pixels)})
            assert answer.status_code == 403 and "no server-side paths" in answer.json()["error"]
        with service.client(TOKEN) as http:
            assert http.post("/uploads", files={"file": ("a.tif", b"x")}).status_code == 403
    finally:
        service.stop()


def test_bad_settings_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlpk.cli.main import main

    data = str(tmp_path / "data")
    assert main(["serve", "--check", "--data", data, "--database", "mysql://x/y"]) == 2
    assert "not a database dlpk serves from" in capsys.readouterr().err
    assert main(["serve", "--check", "--data", data, "--root", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["serve", "--check", "--data", data, "--token", "short"]) == 2
    assert "too short" in capsys.readouterr().err
    assert main(["serve", "--check", "--data", data, "--max-jobs", "0"]) == 2
    unreachable = "postgresql://nobody@127.0.0.1:1/none"
    assert main(["serve", "--check", "--data", data, "--database", unreachable]) == 2
    assert "the database cannot be opened" in capsys.readouterr().err
    assert main(["serve", "--check", "--data", data]) == 0
    assert "schema version 1" in capsys.readouterr().out
    assert (tmp_path / "data" / "dlpk.db").is_file()
