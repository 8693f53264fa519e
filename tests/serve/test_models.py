"""Model items on a real server, on SQLite and on PostgreSQL: uploaded or registered, linted on
the way in, stored by content hash, described, versioned by name, searched, deleted."""

from __future__ import annotations

import zipfile
from pathlib import Path

from dlpk.atomic import sha256_file
from tests.serve.builders import Data
from tests.serve.service import Service, upload_model


def test_upload_describes_and_stores_by_hash(service: Service, serve_data: Data) -> None:
    with service.client() as http:
        item = upload_model(http, serve_data.pixels)
        assert item["name"] == "Pixels" and item["version"] == 1
        assert item["sha256"] == sha256_file(serve_data.pixels)
        assert item["size"] == serve_data.pixels.stat().st_size
        assert item["lint"] == {"ok": True, "errors": 0, "warnings": 0, "diagnostics": []}
        assert (item["modelType"], item["framework"]) == ("ImageClassification", "ONNX")
        assert item["tasks"] == ["ClassifyPixelsUsingDeepLearning"]
        assert item["classes"] == [
            {"value": 1, "name": "Water", "color": [0, 0, 255]},
            {"value": 5, "name": "Forest", "color": [0, 128, 0]},
        ]
        arguments = {a["name"]: a for a in item["arguments"]}
        assert arguments["padding"]["defaultValue"] == 8  # ImageHeight 32 // 4
        assert arguments["tile_size"]["defaultValue"] == 32
        assert arguments["edge_fill"]["choices"] == ["zero", "reflect"]
        assert "threshold" not in arguments  # a detector's, not a pixel classifier's
        stored = service.data / "models" / f"{item['sha256']}.dlpk"
        assert stored.read_bytes() == serve_data.pixels.read_bytes()

        again = http.post(
            "/models", files={"file": ("pixels.dlpk", serve_data.pixels.read_bytes())}
        )
        assert again.status_code == 200 and again.json()["id"] == item["id"]
        assert http.get(f"/models/{item['id']}").json()["sha256"] == item["sha256"]


def test_broken_package_is_refused_with_its_diagnostics(service: Service, serve_data: Data) -> None:
    with service.client() as http:
        answer = http.post(
            "/models", files={"file": ("broken.dlpk", serve_data.broken.read_bytes())}
        )
        assert answer.status_code == 422
        body = answer.json()
        assert "lint error" in body["error"]
        codes = {d["code"] for d in body["diagnostics"] if d["severity"] == "error"}
        assert "DL202" in codes  # ObjectionDetection: did you mean ObjectDetection?
        assert all(d["location"].startswith("broken.dlpk") for d in body["diagnostics"])
        assert str(service.data) not in answer.text  # the server's own paths stay its own
        assert http.get("/models").json() == {"models": []}
        assert not list((service.data / "models").glob("*.dlpk"))


def test_versions_search_register_and_delete(service: Service, serve_data: Data) -> None:
    with service.client() as http:
        first = upload_model(http, serve_data.pixels)
        with open(serve_data.detector, "rb") as handle:  # other bytes under the same name
            second = http.post(
                "/models", files={"file": ("d.dlpk", handle)}, data={"name": "Pixels"}
            ).json()
        assert (second["name"], second["version"]) == ("Pixels", 2)
        registered = http.post("/models", json={"path": str(serve_data.classifier)})
        assert registered.status_code == 201, registered.text
        assert registered.json()["name"] == "Roofs"

        names = [(m["name"], m["version"]) for m in http.get("/models").json()["models"]]
        assert names == [("Pixels", 1), ("Pixels", 2), ("Roofs", 1)]
        found = http.get("/models", params={"q": "roofs"}).json()["models"]
        assert [m["name"] for m in found] == ["Roofs"]
        assert http.get("/models", params={"q": "forest water"}).json()["models"]  # classes
        assert http.get("/models", params={"q": "nothing-like-it"}).json()["models"] == []

        stored = service.data / "models" / f"{first['sha256']}.dlpk"
        assert http.delete(f"/models/{first['id']}").status_code == 204
        assert http.get(f"/models/{first['id']}").status_code == 404
        assert http.delete(f"/models/{first['id']}").status_code == 404
        assert not stored.exists()
        left = [(m["name"], m["version"]) for m in http.get("/models").json()["models"]]
        assert left == [("Pixels", 2), ("Roofs", 1)]


def test_page_store_reads_what_the_routes_wrote(
    service: Service, serve_data: Data, tmp_path: Path
) -> None:
    from dlpk.serve.store import Store

    with service.client() as http:
        item = upload_model(http, serve_data.detector)
    store = Store(service.database or f"sqlite:///{service.data / 'dlpk.db'}", service.data)
    try:
        view = store.get_model(item["id"])
        assert view is not None and view.path.read_bytes() == serve_data.detector.read_bytes()
        assert view.description["model_type"] == "ObjectDetection"
        assert store.get_model("no-such-id") is None and store.get_job("no-such-id") is None
    finally:
        store.close()


def test_uploads_at_once_get_versions_of_their_own(service: Service, serve_data: Data) -> None:
    """Four packages of one name uploaded together: four items, versions 1 to 4."""
    from concurrent.futures import ThreadPoolExecutor

    packages = [serve_data.pixels, serve_data.detector, serve_data.classifier]
    packages.append(serve_data.root / "pixels-copy.dlpk")
    with zipfile.ZipFile(serve_data.pixels) as source, zipfile.ZipFile(packages[3], "w") as copy:
        for info in source.infolist():  # the same files, other bytes (a comment)
            copy.writestr(info, source.read(info))
        copy.comment = b"another build"

    def send(path: Path) -> int:
        with service.client() as http:
            answer = http.post("/models", files={"file": (path.name, path.read_bytes())},
                               data={"name": "shared"})  # fmt: skip
            return answer.status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(send, packages)) == [201] * 4
    with service.client() as http:
        items = http.get("/models", params={"q": "shared"}).json()["models"]
    assert sorted(i["version"] for i in items) == [1, 2, 3, 4]
    assert len({i["sha256"] for i in items}) == 4
