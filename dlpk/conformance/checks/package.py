"""CF1: the package itself: it lints, a configuration runs it, its model loads."""

from __future__ import annotations

from dlpk.conformance.context import ModelContext
from dlpk.conformance.outcome import Outcome, failed, passed, skipped, warned
from dlpk.conformance.registry import MODEL_CHECKS

LISTED = 5


@MODEL_CHECKS.register("CF101", "package.lint", "the package lints without errors")
def lint_clean(context: ModelContext) -> Outcome:
    errors, warnings = context.lint_errors, context.lint_warnings
    if errors:
        return failed(
            f"{len(errors)} lint error(s): {'; '.join(errors[:LISTED])}",
            f"run `dlpk lint {context.options.package}` and `dlpk fix` for the fixable ones",
            errors=errors,
            warnings=warnings,
        )
    if warnings:
        return warned(
            f"{len(warnings)} lint warning(s): {'; '.join(warnings[:LISTED])}",
            f"see `dlpk lint {context.options.package}`",
            warnings=warnings,
        )
    return passed("no lint errors or warnings")


@MODEL_CHECKS.register(
    "CF102", "package.configuration", "a built-in configuration or its raster function runs it"
)
def configuration(context: ModelContext) -> Outcome:
    if context.lint_errors:
        return skipped("not run: the package does not lint (CF101)")
    found = context.configuration
    if found is None:
        return failed(
            context.blocked or "no configuration runs this package",
            "name a runnable Framework and ModelConfiguration (`dlpk configurations`), or an "
            "InferenceFunction .py in the package",
        )
    return passed(
        f"{found.framework}/{found.name} runs it with `dlpk {context.task}`",
        framework=found.framework,
        configuration=found.name,
        task=context.task,
    )


@MODEL_CHECKS.register("CF103", "package.loads", "the model loads in its framework")
def loads(context: ModelContext) -> Outcome:
    if context.configuration is None:
        reason = "the package does not lint (CF101)" if context.lint_errors else "no runner (CF102)"
        return skipped(f"not run: {reason}")
    if context.load_error is not None:
        error = context.load_error
        return failed(
            f"the model does not load: {error.message}",
            error.hint or "check that ModelFile is the exported model and matches Framework",
        )
    if context.load_skipped is not None:
        return skipped(f"{context.load_skipped}; the probes that need it skip too")
    what = "the raster function initialised" if context.runs_function else "loaded"
    return passed(f"{what} in {context.load_seconds:.2f} s", seconds=context.load_seconds)
