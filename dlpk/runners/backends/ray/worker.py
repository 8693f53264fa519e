"""What a Ray actor runs: the one entrypoint on one share's job directory.

The driver wraps `ShareWorker` with `ray.remote` (its resources, restarts and retries); each
actor runs one share, so the model loads once per worker. Every start of a share is recorded in
its job directory (node, address, process id), which tells the driver how often a share was
started again after its worker was lost.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ATTEMPTS = "attempts.jsonl"  # one line per start of the share, in its job directory


class ShareWorker:
    """One worker; `run` runs a share and returns where it ran and its exit code."""

    def run(self, jobdir: str) -> dict[str, Any]:
        import ray

        from dlpk.runners.entrypoint import run_job

        path = Path(jobdir)
        record: dict[str, Any] = {
            "node": ray.get_runtime_context().get_node_id(),
            "address": ray.util.get_node_ip_address(),  # type: ignore[no-untyped-call]
            "pid": os.getpid(),
            "started": time.time(),
        }
        clear_out(path / "out")  # a share started again begins afresh
        with open(path / ATTEMPTS, "a", encoding="utf-8") as handle:  # once its records went
            handle.write(json.dumps(record) + "\n")
        code = run_job(path, launched=True)
        return {**record, "exit_code": code, "peak_memory_mib": peak_memory_mib()}


def peak_memory_mib() -> float | None:
    """This process's peak resident memory (each share has a worker process of its own)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def clear_out(out: Path) -> None:
    """Remove what an earlier start of the share wrote to its out/; links (an export's
    output folder, written in place) stay, and are not followed."""
    out.mkdir(exist_ok=True)
    for child in out.iterdir():
        if child.is_symlink():
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def attempts(jobdir: Path) -> list[dict[str, Any]]:
    """Every start of the share recorded in `jobdir`, first to last."""
    try:
        lines = (jobdir / ATTEMPTS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            found.append(json.loads(line))
        except ValueError:  # a line cut short by a kill
            continue
    return found
