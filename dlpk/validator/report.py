"""What a lint run found, as one object a caller can test, filter and render."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlpk.validator.diagnostics import Diagnostic, Severity


@dataclass(frozen=True)
class LintReport:
    """The files linted and their diagnostics; `strict` makes warnings fail `ok` too."""

    files: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    strict: bool = False

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors and not (self.strict and self.warnings)

    @property
    def exit_code(self) -> int:
        """What `dlpk lint` returns: 1 when not ok."""
        return 0 if self.ok else 1

    def render(self, format: str = "text", colour: bool = False) -> str:
        """The report as `dlpk lint --format` prints it: text, json, sarif or github."""
        from dlpk.validator.reporters import REPORTERS

        reporter = REPORTERS.get(format)
        if reporter is None:
            from dlpk.errors import UsageError

            raise UsageError(f"unknown report format {format!r}", f"use {', '.join(REPORTERS)}")
        return reporter(self.files, self.diagnostics, colour)
