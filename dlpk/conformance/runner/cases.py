"""The runner kit's cases: what the job contract (docs/architecture.md, `dlpk schema job`)
promises, tried against a runner. RC1 valid jobs and their files, RC2 invalid jobs (exit 2),
RC3 bad input (exit 3), RC4 model errors (exit 4), RC5 a job killed mid-way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dlpk.conformance.outcome import Outcome, failed, passed, warned
from dlpk.conformance.registry import RUNNER_CASES
from dlpk.conformance.runner.context import JobRun, RunnerContext, parsed
from dlpk.conformance.runner.jobs import EXPORT_OUTPUT, OUTPUT, classify_job, export_job
from dlpk.spec.job import ProgressRecord, Result

CONTRACT = "the job contract (docs/conformance.md, `dlpk schema result`)"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def result_of(run: JobRun) -> tuple[Result | None, str | None]:
    """out/result.json as the schema reads it, or why it cannot be read."""
    text = run.result_text()
    if text is None:
        return None, "no out/result.json"
    try:
        return Result.model_validate_json(text), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(document)"
        return None, f"out/result.json does not match the result schema: {where}: {first['msg']}"


def problems_of(run: JobRun, expected: int) -> list[str]:
    """Everything the contract says about a job that ended with `expected`, that this run
    broke."""
    ended = run.ended
    if ended.timed_out:
        return [f"the job did not end within {ended.seconds:.0f} s"]
    found: list[str] = []
    if ended.exit_code != expected:
        found.append(f"exit code {ended.exit_code}, not {expected}")
    result, why = result_of(run)
    if result is None:
        return [*found, why or "no result"]
    if result.exit_code != ended.exit_code:
        found.append(
            f"result.json says exit_code {result.exit_code}; the runner exited {ended.exit_code}"
        )
    if (result.status == "done") != (result.exit_code == 0):
        found.append(f"status {result.status!r} with exit_code {result.exit_code}")
    if expected:
        if result.error is None or not result.error.message:
            found.append("a failed job's result.json names no error")
        finished = [p for p in run.declared if (run.jobdir / p).is_file()]
        if finished:
            found.append(f"a failed job left {', '.join(finished)} under its final name")
        return found
    for output in result.outputs:
        path = run.jobdir / output.path
        if not path.is_file():
            found.append(f"result.json lists {output.path}, which does not exist")
        elif path.stat().st_size != output.size or _sha256(path) != output.sha256:
            found.append(f"{output.path} is not the size and sha256 result.json gives")
    listed = [o.path for o in result.outputs]
    for declared in run.declared:
        if not any(p == declared or p.startswith(declared.rstrip("/") + "/") for p in listed):
            found.append(f"result.json lists no file of the declared output {declared}")
    return found


def _judge(run: JobRun, expected: int, what: str) -> Outcome:
    problems = problems_of(run, expected)
    evidence: dict[str, Any] = {
        "exit_code": run.ended.exit_code,
        "seconds": round(run.ended.seconds, 2),
    }
    if problems:
        evidence["runner_output"] = run.ended.output
        return failed(f"{what}: {'; '.join(problems)}", f"follow {CONTRACT}", **evidence)
    return passed(f"{what}: exit {expected}, result.json as the contract says", **evidence)


def _classify(context: RunnerContext) -> JobRun:
    return context.job("classify", classify_job())


def _export(context: RunnerContext) -> JobRun:
    return context.job("export", export_job(), model=None)


@RUNNER_CASES.register(
    "RC101", "job.classify", "a valid classify_pixels job: exit 0, outputs listed with sha256"
)
def classify(context: RunnerContext) -> Outcome:
    return _judge(_classify(context), 0, "a valid classify_pixels job")


@RUNNER_CASES.register(
    "RC102", "job.export", "a valid export_chips job: exit 0, outputs listed with sha256"
)
def export(context: RunnerContext) -> Outcome:
    return _judge(_export(context), 0, "a valid export_chips job")


@RUNNER_CASES.register("RC103", "files.result_last", "result.json is written after every output")
def result_last(context: RunnerContext) -> Outcome:
    late: list[str] = []
    for run in (_classify(context), _export(context)):
        result, _ = result_of(run)
        if result is None:
            continue
        # modification times: a container's files are given back to the caller (chown)
        # after the run, which moves every change time past result.json's
        written = (run.out / "result.json").stat().st_mtime_ns
        for output in result.outputs:
            path = run.jobdir / output.path
            if path.is_file() and path.stat().st_mtime_ns > written:
                late.append(output.path)
    if late:
        return failed(
            f"{len(late)} output(s) changed after result.json was written: {', '.join(late[:5])}",
            "write every output under a temporary name, rename it into place, and write "
            "result.json last (its presence means the job finished)",
            late=late,
        )
    return passed("every output was in place before result.json (by modification times)")


@RUNNER_CASES.register(
    "RC104", "files.progress", "progress.jsonl holds one valid progress record a line"
)
def progress(context: RunnerContext) -> Outcome:
    problems: list[str] = []
    lines = 0
    for run in (_classify(context), _export(context)):
        path = run.out / "progress.jsonl"
        if not path.is_file():
            problems.append(f"{run.jobdir.name}: no out/progress.jsonl")
            continue
        elapsed = 0.0
        last: dict[str, ProgressRecord] = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            lines += 1
            try:
                record = ProgressRecord.model_validate_json(line)
            except ValidationError as exc:
                problems.append(f"{run.jobdir.name} line {number}: {exc.errors()[0]['msg']}")
                continue
            if record.elapsed < elapsed:
                problems.append(f"{run.jobdir.name} line {number}: elapsed went back")
            if record.total is not None and record.done > record.total:
                problems.append(f"{run.jobdir.name} line {number}: done > total")
            elapsed = record.elapsed
            last[record.stage] = record
        if run.ended.exit_code == 0:
            open_stages = [s for s, r in last.items() if r.total is not None and r.done < r.total]
            if open_stages:
                problems.append(
                    f"{run.jobdir.name}: a finished job left stages "
                    f"{open_stages} short of their total"
                )
        if not last:
            problems.append(f"{run.jobdir.name}: progress.jsonl holds no record")
    if problems:
        return failed(
            "; ".join(problems[:5]),
            'write one JSON object a line: {"stage", "done", "total", "elapsed"}',
            problems=problems,
        )
    return passed(f"{lines} progress record(s), each valid, in order", lines=lines)


@RUNNER_CASES.register(
    "RC105", "files.read_only", "job.json, model/ and in/ are left as they were, read-only"
)
def read_only(context: RunnerContext) -> Outcome:
    changed: list[str] = []
    for run in (_classify(context), _export(context)):
        for name in sorted(set(run.before) | set(run.after)):
            if run.before.get(name) != run.after.get(name):
                changed.append(f"{run.jobdir.name}/{name}")
    ran = [r for r in (_classify(context), _export(context)) if r.ended.exit_code == 0]
    if changed:
        return failed(
            f"the runner changed its read-only inputs: {', '.join(changed[:5])}",
            "write only under out/ (e.g. no .aux.xml beside an input raster)",
            changed=changed,
        )
    if len(ran) < 2:
        return failed(
            "a valid job failed with its inputs read-only (RC101, RC102)",
            "the runner must need no write access outside out/",
        )
    return passed(
        "both valid jobs ran with job.json, model/ and in/ read-only, and left them unchanged"
    )


def _invalid(
    check_id: str,
    name: str,
    what: str,
    job: Any,
    expected: int = 2,
    tolerated: int | None = None,
    **layout: Any,
) -> None:
    """A job the runner must refuse with `expected`; `tolerated` is a code that is read
    otherwise by some runners (a warning, not a failure)."""

    def case(context: RunnerContext) -> Outcome:
        run = context.job(name, job, **layout)
        if tolerated is not None and run.ended.exit_code == tolerated:
            judged = _judge(run, tolerated, what)
            if judged.status == "pass":
                return warned(
                    f"{what}: exit {tolerated}, where the contract's code is {expected}",
                    f"exit {expected} for this case ({CONTRACT})",
                    exit_code=tolerated,
                )
            return judged
        return _judge(run, expected, what)

    RUNNER_CASES.register(check_id, name, f"{what}: exit {expected}, result.json failed")(case)


def _with(change: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(base or classify_job()))
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = document
        for key in parents:
            node = node[key]
        node[leaf] = value
    return document


_invalid("RC201", "invalid.no_job_json", "a job directory without job.json", None)
_invalid("RC202", "invalid.not_json", "a job.json that is not JSON", '{"task": "classify')
_invalid("RC203", "invalid.unknown_task", "an unknown task", _with({"task": "paint_pixels"}))
_invalid(
    "RC204",
    "invalid.path_outside",
    "an input path leaving the job directory",
    _with({"inputs.in_raster": "../scene.tif"}),
)
_invalid(
    "RC205", "invalid.unknown_key", "an unknown parameter", _with({"parameters.colour": "blue"})
)
_invalid("RC206", "invalid.api_version", "another apiVersion", _with({"apiVersion": "dlpk/v0"}))
_invalid(
    "RC207",
    "invalid.output_outside_out",
    "an output outside out/",
    _with({"outputs.out_classified_raster": "classified.tif"}),
)
_invalid(
    "RC301",
    "input.not_a_raster",
    "an input raster that is no raster",
    classify_job(),
    3,
    scene=False,
)
# dlpk's own classify_pixels says 2 (the path the job names does not exist); 3 is the
# contract's code for input that cannot be used, and what export_chips says
_invalid(
    "RC302",
    "input.missing",
    "an input raster that does not exist",
    _with({"inputs.in_raster": "in/absent.tif"}),
    3,
    tolerated=2,
)
_invalid(
    "RC401",
    "model.cannot_load",
    "a model file that is not a model",
    classify_job(),
    4,
    model="broken",
)
_invalid(
    "RC402", "model.raises", "a model that raises while running", classify_job({"fail": "yes"}), 4
)


def _mid_job(jobdir: Path) -> bool:
    """Some of the work is done, not all of it."""
    try:
        text = (jobdir / "out" / "progress.jsonl").read_text(encoding="utf-8")
    except OSError:
        return False
    for line in text.splitlines():
        record = parsed(line)
        if isinstance(record, dict) and isinstance(record.get("done"), int):
            total = record.get("total")
            if record["done"] > 0 and isinstance(total, int) and record["done"] < total:
                return True
    return False


@RUNNER_CASES.register(
    "RC501", "killed.atomic", "a job killed mid-way leaves nothing that looks finished"
)
def killed(context: RunnerContext) -> Outcome:
    run = context.job("killed", classify_job({"delay": "0.3"}), kill_when=_mid_job, size=512)
    if not run.ended.killed:
        if run.ended.timed_out:
            return failed(
                "the job reported no progress before the kit's timeout",
                "write progress.jsonl records as the job goes",
            )
        return warned(
            f"the job ended (exit {run.ended.exit_code}) before it could be killed mid-way: "
            "nothing to judge",
            "write progress.jsonl records as the job goes, so the kit sees it mid-way",
        )
    left = sorted(p.relative_to(run.jobdir).as_posix() for p in run.out.rglob("*") if p.is_file())
    finished = [p for p in (OUTPUT, "out/result.json") if (run.jobdir / p).exists()]
    if finished:
        return failed(
            f"after SIGKILL mid-job, {', '.join(finished)} exist(s) under the final name",
            "write outputs under temporary names and rename them when complete; write "
            "result.json last",
            left=left,
        )
    return passed(
        "killed mid-job, it left no result.json and no output under its final name", left=left
    )


__all__ = ["EXPORT_OUTPUT", "problems_of", "result_of"]
