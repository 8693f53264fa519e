"""A real HTTP server on loopback serving a folder, with byte ranges (as GDAL's /vsicurl/ asks
an object store or a web server for the blocks it reads). It runs in a process of its own: GDAL
holds the GIL while it reads, so a server thread in the reading process would never answer."""

from __future__ import annotations

import contextlib
import functools
import re
import subprocess
import sys
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class RangeHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler that answers `Range: bytes=a-b` with 206 and those bytes."""

    def do_GET(self) -> None:
        match = _RANGE.match(self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            super().do_GET()
            return
        data = path.read_bytes()
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(data[start : end + 1])


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[tuple[str, Path]]:
    """The base URL of `folder` served on a free loopback port, and the file where the server
    writes each request line it answers."""
    seen = folder.parent / f"{folder.name}-requests.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.http_files", str(folder), str(seen)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.terminate()
        server.wait(10)


def serve(folder: Path, seen: Path) -> None:
    """Serve `folder` until terminated; print the port first."""

    class Logged(RangeHandler):
        def log_message(self, format: str, *args: object) -> None:
            with open(seen, "a", encoding="utf-8") as handle:
                handle.write(self.requestline + "\n")

    handler = functools.partial(Logged, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]))
