"""A real `dlpk serve` for the tests: the command in a subprocess on a free loopback port,
talked to over HTTP; stopped, killed and started again on the same data and database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TOKEN = "test-token-0123456789"
FINISHED = ("esriJobSucceeded", "esriJobFailed", "esriJobCancelled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    data: Path
    roots: list[Path]
    database: str | None = None
    options: tuple[str, ...] = ()
    token: str | None = TOKEN  # None: the service makes one and prints it
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Service:
        command = [sys.executable, "-m", "dlpk", "serve", "--data", str(self.data)]
        command += ["--port", str(self.port), *self.options]
        if self.token is not None:
            command += ["--token", self.token]
        for root in self.roots:
            command += ["--root", str(root)]
        if self.database:
            command += ["--database", self.database]
        log = open(self.data.parent / f"{self.data.name}-server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"dlpk serve exited with {self.process.returncode}:\n"
                                     + self.log())  # fmt: skip
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("dlpk serve did not answer /health:\n" + self.log())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def log(self) -> str:
        path = self.data.parent / f"{self.data.name}-server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def upload_model(http: httpx.Client, path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        response = http.post("/models", files={"file": (path.name, handle)})
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def submit(http: httpx.Client, task: str, **parameters: Any) -> str:
    response = http.post(f"/tasks/{task}/submitJob", json=parameters)
    assert response.status_code == 200, response.text
    assert response.json()["jobStatus"] == "esriJobSubmitted"
    return str(response.json()["jobId"])


def wait_for(
    http: httpx.Client, job_id: str, statuses: tuple[str, ...] = FINISHED, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/jobs/{job_id}").json()
        if job["jobStatus"] in statuses:
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {statuses}: {job}")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"
