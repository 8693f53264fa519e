"""A real PostgreSQL server for the tests, started in a temporary folder from the server's own
binaries (`initdb`, `postgres`: Debian's postgresql package), as an unprivileged user when the
tests run as root (PostgreSQL refuses root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.serve.service import free_port

USER = "dlpk"


def binaries() -> Path | None:
    """The folder holding initdb and postgres: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "postgres").exists():
            return Path(folder)
    return None


@dataclass
class Postgres:
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    count: int = 0

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self.count += 1
        name = f"dlpk_test_{self.count}"
        with psycopg.connect(self._url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self._url(name)

    def _url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(bin_dir: Path) -> Postgres:
    """initdb and start a server on a free port; trust authentication, loopback only."""
    folder = Path(tempfile.mkdtemp(prefix="dlpk-pg-"))
    run_as = _unprivileged(folder)
    data = folder / "data"
    subprocess.run(
        [*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
         "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    log = open(folder / "postgres.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [*run_as, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    server = Postgres(folder, port, process)
    _wait_ready(server)
    return server


def _unprivileged(folder: Path) -> list[str]:
    """The command prefix that runs PostgreSQL as `nobody` when we are root; the folder is
    handed to that user."""
    if os.geteuid() != 0:
        return []
    import pwd

    nobody = pwd.getpwnam("nobody")
    os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    runuser = shutil.which("runuser") or shutil.which("setpriv")
    if runuser is None:
        raise RuntimeError("running as root, and neither runuser nor setpriv is installed")
    if runuser.endswith("runuser"):
        return [runuser, "-u", "nobody", "--"]
    return [runuser, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]


def _wait_ready(server: Postgres, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (server.folder / "postgres.log").read_text(errors="replace")
            raise RuntimeError(f"postgres exited with {server.process.returncode}:\n{log}")
        try:
            with psycopg.connect(server._url("postgres"), connect_timeout=2):
                return
        except psycopg.OperationalError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("postgres did not accept connections within 30 s")
