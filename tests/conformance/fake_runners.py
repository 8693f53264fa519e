"""Runners that break the job contract in one way each, for the runner kit's own tests:
`python fake_runners.py MODE JOBDIR`. Each wraps dlpk's real entrypoint.

- result-first: runs the job, then rewrites every output after result.json (as a runner that
  writes result.json before its outputs leaves them);
- always-zero: runs the job, and exits 0 whatever it did;
- eager-output: writes the declared output under its final name first, then works slowly.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from dlpk.runners.entrypoint import run_job


def result_first(jobdir: Path) -> int:
    code = run_job(jobdir)
    time.sleep(0.05)  # later than result.json on any file system clock
    result = json.loads((jobdir / "out" / "result.json").read_text())
    for output in result["outputs"]:
        path = jobdir / output["path"]
        data = path.read_bytes()
        temporary = path.with_name(path.name + ".again")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    return code


def eager_output(jobdir: Path) -> int:
    job = json.loads((jobdir / "job.json").read_text())
    for output in job.get("outputs", {}).values():
        (jobdir / output).write_bytes(b"not finished")
    progress = jobdir / "out" / "progress.jsonl"
    with open(progress, "w") as handle:
        for done in range(100):
            handle.write(
                json.dumps({"stage": "infer", "done": done, "total": 100, "elapsed": done * 0.1})
                + "\n"
            )
            handle.flush()
            time.sleep(0.1)
    return run_job(jobdir)


def main(argv: list[str]) -> int:
    mode, jobdir = argv[0], Path(argv[1])
    if mode == "result-first":
        return result_first(jobdir)
    if mode == "always-zero":
        run_job(jobdir)
        return 0
    if mode == "eager-output":
        return eager_output(jobdir)
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
