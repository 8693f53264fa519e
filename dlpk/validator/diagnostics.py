"""The unit of lint output: a diagnostic with a stable code, a location and an optional fix."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class TextEdit:
    """Replace text[start:end] of the .emd with `replacement` (character offsets)."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class Fix:
    """A repair. Safe fixes keep what ArcGIS would read; unsafe ones may change meaning.

    `edits` apply to the .emd text; `action` names a package-level repair (e.g. "flatten").
    """

    description: str
    safe: bool
    edits: tuple[TextEdit, ...] = ()
    action: str | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    file: str
    member: str | None = None
    pointer: str | None = None
    line: int | None = None
    column: int | None = None
    fix: Fix | None = None
    excerpt: str | None = None  # the offending source line, for people

    @property
    def location(self) -> str:
        where = f"{self.file}!{self.member}" if self.member else self.file
        return f"{where}:{self.line}:{self.column}" if self.line is not None else where

    def with_file(self, file: str, member: str | None) -> Diagnostic:
        return replace(self, file=file, member=member)


def max_severity(diagnostics: list[Diagnostic]) -> Severity | None:
    """The worst severity present, or None for a clean result."""
    if not diagnostics:
        return None
    return max((d.severity for d in diagnostics), key=lambda s: s.rank)
