"""`dlpk conformance --runner IMAGE_OR_COMMAND`: every chosen case, in id order.

Each case's jobs run in a scratch folder (their read-only parts made writable again before it
is removed); a case that needs another's job reuses its run."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from dlpk.conformance.model_kit import as_result, build_report, now
from dlpk.conformance.outcome import NotApplicable, skipped
from dlpk.conformance.registry import RUNNER_CASES, Check
from dlpk.conformance.runner.context import RunnerContext, RunnerOptions
from dlpk.conformance.runner.jobs import writable
from dlpk.conformance.runner.targets import target_for
from dlpk.scratch import leftovers, scratch_folder
from dlpk.spec.conformance import CheckResult, ConformanceReport

PREFIX = "dlpk-runner-kit-"


def run_runner_cases(options: RunnerOptions) -> ConformanceReport:
    import dlpk.conformance.runner.cases  # noqa: F401  (registers the cases)

    chosen = RUNNER_CASES.chosen(options.select, options.ignore)
    target = target_for(options.runner)
    started = now()
    for old in leftovers(Path(tempfile.gettempdir()), PREFIX):
        writable(old)  # a killed kit's read-only job folders, so they can be removed
    folder = scratch_folder(PREFIX)
    try:
        context = RunnerContext(options, target, folder)
        results = []
        for case in chosen:
            results.append(_execute(case, context))
    finally:
        writable(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return build_report(
        "runner",
        target.description,
        results,
        started,
        options.strict,
        {"runner": target.description, "timeout": options.timeout},
    )


def _execute(case: Check[RunnerContext], context: RunnerContext) -> CheckResult:
    began = time.perf_counter()
    try:
        outcome = case.run(context)
    except NotApplicable as exc:
        outcome = skipped(str(exc))
    result = as_result(case, outcome, time.perf_counter() - began)
    if context.options.on_check is not None:
        context.options.on_check(case.id, case.name, result.status)
    return result


def case_names() -> list[Check[RunnerContext]]:
    import dlpk.conformance.runner.cases  # noqa: F401

    return RUNNER_CASES.all()
