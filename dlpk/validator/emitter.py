"""Turns rule findings into located diagnostics for one .emd document."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dlpk.validator.diagnostics import Diagnostic, Fix, Severity, TextEdit
from dlpk.validator.files import FileIndex
from dlpk.validator.jsontext import ParsedJson
from dlpk.validator.rules import rule


@dataclass
class EmdSource:
    """An .emd being linted: its parsed text, where it lives and where its files are."""

    parsed: ParsedJson
    file: str
    member: str | None = None
    index: FileIndex | None = None
    in_package: bool = False


@dataclass
class Emitter:
    source: EmdSource
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def emit(
        self,
        code: str,
        message: str,
        pointer: str | None = None,
        *,
        key: bool = False,
        offset: int | None = None,
        fix: Fix | None = None,
        severity: Severity | None = None,
    ) -> None:
        parsed = self.source.parsed
        if offset is None and pointer is not None:
            span = parsed.key_span(pointer) if key else parsed.value_spans.get(pointer)
            if span is None and key is False:
                span = parsed.key_span(pointer)
            offset = span.start if span is not None else None
        line, column = parsed.line_col(offset) if offset is not None else (None, None)
        excerpt = parsed.line_text(line) if line is not None else None
        self.diagnostics.append(
            Diagnostic(
                code=code,
                severity=severity or rule(code).severity,
                message=message,
                file=self.source.file,
                member=self.source.member,
                pointer=pointer,
                line=line,
                column=column,
                fix=fix,
                excerpt=excerpt,
            )
        )

    def value_fix(self, pointer: str, new_value: Any, description: str, safe: bool) -> Fix | None:
        """A fix that rewrites the value at `pointer` as JSON."""
        span = self.source.parsed.value_spans.get(pointer)
        if span is None:
            return None
        text = json.dumps(new_value, ensure_ascii=False)
        return Fix(description, safe, (TextEdit(span.start, span.end, text),))

    def key_fix(self, pointer: str, new_key: str, description: str, safe: bool) -> Fix | None:
        """A fix that renames the key of the member at `pointer`."""
        span = self.source.parsed.key_span(pointer)
        if span is None:
            return None
        return Fix(description, safe, (TextEdit(span.start, span.end, json.dumps(new_key)),))
