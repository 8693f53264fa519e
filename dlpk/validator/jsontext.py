"""Parsed JSON that remembers where every key and value is.

Python's `json` (what ArcGIS loads an .emd with) stops at the first error and silently keeps the
last of duplicated keys. To lint we need more: exact positions of every value (for line/column and
text fixes), every recoverable mistake reported with a repair (BOM, comments, trailing commas,
missing commas, unescaped backslashes, raw control characters, duplicate keys), and parsing that
goes on after them so the rest of the file is still checked. This module holds that result and
JSON Pointer helpers; the tolerant parser that fills it, and its entry points
(`parse_json_bytes`, `parse_json_text`), live in `jsonparser`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlpk.validator.diagnostics import TextEdit


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class SyntaxIssue:
    """A JSON-level problem. `kind` selects the lint rule; `edits` repair it when not None."""

    kind: str
    message: str
    offset: int
    edits: tuple[TextEdit, ...] | None = None
    pointer: str | None = None


@dataclass(frozen=True)
class Member:
    """One `"key": value` pair of an object, with the spans needed to rename or delete it."""

    key: str
    key_span: Span
    value_span: Span
    delete_span: Span


@dataclass
class ParsedJson:
    """The parsed value (None when parsing failed) plus positions and issues."""

    text: str
    value: Any = None
    ok: bool = False
    value_spans: dict[str, Span] = field(default_factory=dict)
    members: dict[str, list[Member]] = field(default_factory=dict)
    issues: list[SyntaxIssue] = field(default_factory=list)
    _line_starts: list[int] = field(default_factory=list)

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        starts = self.line_starts()
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - starts[lo] + 1

    def line_starts(self) -> list[int]:
        """Offsets where lines start, found once (a diagnostic's line costs a lookup, not a
        scan of the whole text)."""
        if not self._line_starts:
            self._line_starts = [0] + [i + 1 for i, ch in enumerate(self.text) if ch == "\n"]
        return self._line_starts

    def line_text(self, line: int, limit: int = 2000) -> str | None:
        """Line `line` (1-based) without its end of line; None past `limit` characters (a
        minified one-line file would otherwise be copied into every diagnostic)."""
        starts = self.line_starts()
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[start:end].rstrip("\r") if end - start <= limit else None

    def key_span(self, pointer: str) -> Span | None:
        """Span of the key token of the member at `pointer` (the last one if duplicated)."""
        parent, _, escaped = pointer.rpartition("/")
        wanted = unescape_pointer_token(escaped)
        for member in reversed(self.members.get(parent, [])):
            if member.key == wanted:
                return member.key_span
        return None


def escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape_pointer_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def child_pointer(parent: str, token: str | int) -> str:
    return f"{parent}/{escape_pointer_token(str(token))}"


def decode_json_bytes(data: bytes) -> tuple[str | None, SyntaxIssue | None]:
    """Decode as UTF-8 (what ArcGIS expects); report anything else instead of guessing."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        message = (
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8"
        )
        return None, SyntaxIssue("encoding", message, 0)
