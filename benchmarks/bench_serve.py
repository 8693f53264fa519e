"""Load on `dlpk serve`: concurrent clients polling jobs and fetching map tiles on loopback.

    .venv/bin/python benchmarks/bench_serve.py [--clients 50] [--seconds 60] [--no-write]

A real server (`python -m dlpk serve`, SQLite, the local backend) in its own process on a
loopback port; a tiny ONNX pixel classifier is uploaded and --jobs classify-pixels jobs run on
a 1024 x 1024 scene before the load starts. Then, for --seconds each, in this order:

(1) baseline: --clients clients calling `GET /health` (the cheapest route: what the server and
    this load generator cost per request);
(2) one client doing the mixed load below, alone (latency without contention);
(3) --clients clients doing the mixed load: each request is `GET /jobs/{id}` of a random job
    (a poll) or `GET /jobs/{id}/tiles/...` of a random tile of one of the jobs' two rasters,
    from the layer's first zoom to its pixels' own (half and half); meanwhile one writer
    submits a job every 2 s.

Afterwards every job submitted (before and during the load) must be listed by `GET /jobs` and
have succeeded, and every request must have been answered 200: "no job or row lost". The
clients are threads of one process (http.client, a keep-alive connection each; httpx's async
pool was the bottleneck at 50 connections), on the same machine as the
server: on a small machine they compete with it for the CPUs, so figures are ratios to (1).
Prints markdown and writes it into the "## Service load" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import run_line, write_section  # noqa: E402

SECTION = "## Service load"
HEADER = "# Benchmarks\n"
TOKEN = "bench-serve-token"
SIZE = 1024
WRITE_EVERY_S = 2.0
TERMINAL = {"esriJobSucceeded", "esriJobFailed", "esriJobCancelled"}


def write_scene(path: Path) -> None:
    """Red left half, green right half, a little noise (so tiles are not all alike)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(0)
    data = rng.integers(0, 40, (3, SIZE, SIZE), dtype=np.uint8)
    data[0, :, : SIZE // 2] += 180
    data[1, :, SIZE // 2 :] += 180
    profile = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": from_origin(510_000.0, 5_000_000.0, 2.0, 2.0),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as raster:
        raster.write(data)


def write_model(folder: Path) -> Path:
    """A 1x1 convolution scoring background, Water and Forest from the blue, red and green
    bands, as an ONNX pixel classifier package."""
    import torch

    from dlpk.packaging.pack import pack_folder

    folder.mkdir(parents=True)
    module = torch.nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        module.weight.zero_()
        for channel, band in ((0, 2), (1, 0), (2, 1)):
            module.weight[channel, band, 0, 0] = 1.0
    torch.onnx.export(
        module.eval(),
        (torch.zeros(1, 3, 16, 16),),
        str(folder / "model.onnx"),
        input_names=["image"],
        output_names=["scores"],
        dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "scores": {0: "n", 2: "h", 3: "w"}},
        dynamo=False,
    )
    emd = {
        "Framework": "ONNX",
        "ModelConfiguration": "PixelClassifier",
        "ModelType": "ImageClassification",
        "ModelFile": "model.onnx",
        "ModelName": "bench",
        "ImageHeight": 256,
        "ImageWidth": 256,
        "ExtractBands": [0, 1, 2],
        "Classes": [
            {"Value": 1, "Name": "Water", "Color": [0, 0, 255]},
            {"Value": 5, "Name": "Forest", "Color": [0, 128, 0]},
        ],
    }
    (folder / "bench.emd").write_text(json.dumps(emd))
    package = folder.with_suffix(".dlpk")
    pack_folder(folder, package)
    return package


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tile_urls(layers: dict[str, Any]) -> list[str]:
    """Every tile of every raster layer of a job, from its first zoom to its pixels' own (the
    zooms past it are the same pixels drawn larger)."""
    from dlpk.serve.page.grid import OVERZOOM

    urls = []
    for raster in layers["rasters"].values():
        west, south, east, north = raster["bounds"]
        for z in range(raster["minzoom"], raster["maxzoom"] - OVERZOOM + 1):
            (x0, y0), (x1, y1) = tile_of(west, north, z), tile_of(east, south, z)
            for x in range(x0, x1 + 1):
                for y in range(y0, y1 + 1):
                    urls.append(raster["tiles"].format(z=z, x=x, y=y))
    return urls


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return min(n - 1, int(x)), min(n - 1, int(y))


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.by_kind.setdefault(kind, []).append(seconds)
            if status != 200:
                self.failures[str(status)] = self.failures.get(str(status), 0) + 1


def client_loop(port: int, stop: float, tally: Tally, pick: Any, rng: random.Random) -> None:
    """One client: a keep-alive connection of its own, a request at a time until `stop`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        while time.perf_counter() < stop:
            kind, url = pick(rng)
            start = time.perf_counter()
            try:
                connection.request("GET", url)
                answer = connection.getresponse()
                answer.read()
                status: int | str = answer.status
            except (OSError, http.client.HTTPException) as error:  # counted, then reconnect
                status = type(error).__name__
                connection.close()
            tally.add(kind, time.perf_counter() - start, status)
    finally:
        connection.close()


def load(port: int, clients: int, seconds: float, pick: Any, writer: Any = None) -> Tally:
    """`clients` threads running client_loop for `seconds` (and `writer(stop)` beside them)."""
    tally = Tally()
    stop = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=client_loop, args=(port, stop, tally, pick, random.Random(seed)))
        for seed in range(clients)
    ]
    if writer is not None:
        threads.append(threading.Thread(target=writer, args=(stop,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def p99_ms(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] * 1000


def summary(name: str, tally: Tally, seconds: float) -> dict[str, Any]:
    count = len(tally.latencies)
    return {
        "name": name,
        "requests": count,
        "rate": count / seconds,
        "p50": statistics.median(tally.latencies) * 1000,
        "p99": p99_ms(tally.latencies),
        "p99_poll": p99_ms(tally.by_kind["poll"]) if "poll" in tally.by_kind else None,
        "p99_tile": p99_ms(tally.by_kind["tile"]) if "tile" in tally.by_kind else None,
        "failures": sum(tally.failures.values()),
        "kinds": tally.failures,
    }


class Service:
    """`dlpk serve` in a subprocess, and the calls the benchmark makes outside the load."""

    def __init__(self, folder: Path) -> None:
        import httpx

        self.folder = folder
        self.root = folder / "root"
        self.root.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "dlpk", "serve", "--port", str(self.port)]
        command += ["--data", str(folder / "data"), "--root", str(self.root), "--token", TOKEN]
        self.log = (folder / "serve.log").open("w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.url, timeout=120)
        self.auth = {"Authorization": f"Bearer {TOKEN}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "serve.log").read_text())
            time.sleep(0.1)

    def upload(self, package: Path) -> str:
        with package.open("rb") as handle:
            answer = self.http.post("/models", files={"file": handle}, headers=self.auth)
        answer.raise_for_status()
        return str(answer.json()["id"])

    def submit_body(self, model: str, index: int) -> dict[str, Any]:
        return {
            "inputRaster": str(self.root / "scene.tif"),
            "model": model,
            "outputName": f"classified_{index}",
        }

    def submit(self, model: str, index: int) -> str:
        answer = self.http.post(
            "/tasks/ClassifyPixelsUsingDeepLearning/submitJob",
            json=self.submit_body(model, index),
            headers=self.auth,
        )
        answer.raise_for_status()
        return str(answer.json()["jobId"])

    def wait(self, job_ids: list[str], timeout: float = 600) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        status: dict[str, str] = {}
        while time.monotonic() < deadline:
            status = {j: self.http.get(f"/jobs/{j}").json()["jobStatus"] for j in job_ids}
            if all(s in TERMINAL for s in status.values()):
                break
            time.sleep(0.5)
        return status

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def measure(args: argparse.Namespace, folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    write_scene(folder / "scene.tif")
    package = write_model(folder / "bench")
    service = Service(folder)
    try:
        shutil.copy2(folder / "scene.tif", service.root / "scene.tif")
        model = service.upload(package)
        started = time.perf_counter()
        jobs = [service.submit(model, i) for i in range(args.jobs)]
        before = service.wait(jobs)
        setup_s = time.perf_counter() - started
        if set(before.values()) != {"esriJobSucceeded"}:
            raise RuntimeError(f"jobs did not succeed: {before}")
        tiles = [u for j in jobs for u in tile_urls(service.http.get(f"/jobs/{j}/layers").json())]
        cold = []
        for url in tiles:  # each tile once: rendered from the raster (then cached)
            start = time.perf_counter()
            service.http.get(url).raise_for_status()
            cold.append(time.perf_counter() - start)

        def mixed(rng: random.Random) -> tuple[str, str]:
            if rng.random() < 0.5:
                return "tile", rng.choice(tiles)
            return "poll", f"/jobs/{rng.choice(jobs)}"

        submitted: list[str] = []

        def writer(stop: float) -> None:
            import httpx

            index = args.jobs
            with httpx.Client(base_url=service.url, timeout=60, headers=service.auth) as client:
                while time.perf_counter() < stop:
                    answer = client.post(
                        "/tasks/ClassifyPixelsUsingDeepLearning/submitJob",
                        json=service.submit_body(model, index),
                    )
                    answer.raise_for_status()
                    submitted.append(answer.json()["jobId"])
                    index += 1
                    time.sleep(WRITE_EVERY_S)

        port, seconds = service.port, args.seconds
        rows = [
            summary(
                f"baseline: {args.clients} clients, `GET /health`",
                load(port, args.clients, seconds, lambda _: ("health", "/health")),
                seconds,
            ),
            summary("1 client, polls + tiles", load(port, 1, seconds, mixed), seconds),
            summary(
                f"{args.clients} clients, polls + tiles (+1 writer)",
                load(port, args.clients, seconds, mixed, writer),
                seconds,
            ),
        ]
        after = service.wait(submitted)
        listed = {job["jobId"] for job in service.http.get("/jobs").json()["jobs"]}
        everything = jobs + submitted
        check = {
            "setup_s": setup_s,
            "tiles": len(tiles),
            "cold_ms": statistics.median(cold) * 1000,
            "submitted": len(everything),
            "listed": len(listed & set(everything)),
            "succeeded": sum(s == "esriJobSucceeded" for s in {**before, **after}.values()),
        }
        return rows, check
    finally:
        service.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each load phase")
    parser.add_argument("--jobs", type=int, default=4, help="jobs run before the load")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dlpk-bench-serve-") as scratch:
        rows, check = measure(args, Path(scratch))
    baseline = rows[0]["rate"]
    body = [
        run_line(),
        "",
        f"`dlpk serve` (SQLite, local backend, one uvicorn worker) on loopback; {args.jobs} "
        f"classify-pixels jobs on a {SIZE}x{SIZE} scene ran first ({check['setup_s']:.1f} s); "
        f"the tiles are every tile of their input and classified rasters down to the pixels' zoom "
        f"({check['tiles']}; each rendered once first: median {check['cold_ms']:.1f} ms, then "
        f"served from the tile cache). Each phase lasted {args.seconds:g} s. The clients run "
        f"on the same {os.cpu_count()} CPUs as the server.",
        "",
        "| load | requests | requests/s | / baseline | p50 (ms) | p99 (ms) | p99 poll / tile"
        " (ms) | non-200 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        split = (
            f"{row['p99_poll']:.1f} / {row['p99_tile']:.1f}" if row["p99_poll"] is not None else ""
        )
        body.append(
            f"| {row['name']} | {row['requests']:,} | {row['rate']:,.0f} | "
            f"{row['rate'] / baseline:.2f} | {row['p50']:.1f} | {row['p99']:.1f} | {split} | "
            f"{row['failures']} |"
        )
    lost = check["submitted"] - check["listed"]
    body += [
        "",
        f"Under {args.clients} clients the server answers **{rows[2]['rate']:,.0f} requests/s** "
        f"(**{rows[2]['rate'] / baseline:.2f}x** its `GET /health` rate) with a p99 of "
        f"**{rows[2]['p99']:.0f} ms**. Jobs: {check['submitted']} submitted ({args.jobs} before, "
        f"{check['submitted'] - args.jobs} during the load), {check['listed']} listed by "
        f"`GET /jobs`, {check['succeeded']} succeeded: **{lost} lost**; non-200 answers: "
        f"{sum(row['failures'] for row in rows)}.",
    ]
    print("\n".join(body))
    if not args.no_write:
        write_section(SECTION, body, HEADER)
    failed = lost or check["succeeded"] != check["submitted"] or any(r["failures"] for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
