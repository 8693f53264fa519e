"""The conformance report: what `dlpk conformance` found, as a versioned document.

One document for both kits: a model package's checks (ids CFnnn) and a runner's contract cases
(ids RCnnn). The JSON report is this model serialised; the JUnit report carries the same
results for CI systems. Fields are only ever added; a change that could break a reader bumps
`version` (docs/conformance.md).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

CONFORMANCE_VERSION: Final = 1

Status = Literal["pass", "fail", "warn", "skip"]
Kind = Literal["model", "runner"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckResult(_Strict):
    """One check's outcome, with what it measured and how to fix a failure."""

    id: str = Field(pattern=r"^(CF|RC)\d{3}$", description="Stable id, never renumbered")
    name: str = Field(description="Stable dotted name, e.g. tiles.invariance")
    group: str = Field(description="package, contract, tiles, ... (model); job, files (runner)")
    status: Status
    summary: str = Field(description="One line: what was found")
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="What the check measured: numbers, the pixels or boxes that differ",
    )
    fix: str | None = Field(default=None, description="What to change, for a fail or a warn")
    artifacts: list[str] = Field(
        default_factory=list,
        description="Files written as evidence (e.g. a PNG of a seam), relative to the "
        "report's artifact folder",
    )
    seconds: float = Field(default=0.0, ge=0)


class Summary(_Strict):
    passed: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    warned: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)


class ConformanceReport(_Strict):
    """`dlpk conformance --format json`: every check run, in id order."""

    version: Literal[1] = CONFORMANCE_VERSION
    kind: Kind
    target: str = Field(description="The package path, or the runner image or command")
    dlpk: str = Field(description="The dlpk version that ran the checks")
    strict: bool = Field(default=False, description="Warnings fail the run too")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Backend, sample raster, model arguments, device"
    )
    started: str = Field(description="ISO 8601, UTC")
    finished: str = Field(description="ISO 8601, UTC")
    checks: list[CheckResult] = Field(default_factory=list)
    summary: Summary = Field(default_factory=Summary)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warned(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "warn"]

    @property
    def ok(self) -> bool:
        """No failed check (and with `strict`, no warning)."""
        return not self.failed and not (self.strict and self.warned)

    @property
    def exit_code(self) -> int:
        """What `dlpk conformance` returns: 0 when ok, 1 otherwise."""
        return 0 if self.ok else 1

    def check(self, check_id: str) -> CheckResult:
        """The result of one check by id (KeyError when it did not run)."""
        for found in self.checks:
            if found.id == check_id:
                return found
        raise KeyError(check_id)
