"""The tolerant JSON parser, and the entry points that run it on text or bytes.

Valid JSON reads as `json.loads` reads it. Where ArcGIS's reader would fail or silently lose
data, it records a `SyntaxIssue` (with a text repair when one is safe to
offer) and carries on, so one stray comma does not hide the rest of the file from the linter.
Only what cannot be recovered (an unterminated string, a missing colon, ...) stops it.
"""

from __future__ import annotations

import math
from typing import Any

from dlpk.validator.diagnostics import TextEdit
from dlpk.validator.jsontext import (
    Member,
    ParsedJson,
    Span,
    SyntaxIssue,
    child_pointer,
    decode_json_bytes,
)

MAX_DEPTH = 256
_WHITESPACE = " \t\n\r"
_HEX = "0123456789abcdefABCDEF"
_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


#: Python refuses to convert longer digit strings (sys.get_int_max_str_digits' default).
MAX_INT_DIGITS = 4300


class _Fatal(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def parse(text: str) -> ParsedJson:
    """Parse `text`, recording issues; never raises on any input."""
    return _Parser(text).run()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.result = ParsedJson(text=text)

    # -- driver -----------------------------------------------------------------------------
    def run(self) -> ParsedJson:
        if self.text.startswith("\ufeff"):
            self._issue("bom", "file starts with a byte-order mark (BOM)", 0, (TextEdit(0, 1, ""),))
            self.pos = 1
        try:
            self._skip()
            if self.pos >= len(self.text):
                raise _Fatal("file is empty; an .emd must hold one JSON object", self.pos)
            self.result.value = self._value("", 0)
            self._skip()
            if self.pos < len(self.text):
                raise _Fatal(
                    f"unexpected {self._describe(self.pos)} after the end of the JSON value",
                    self.pos,
                )
            self.result.ok = True
        except _Fatal as fatal:
            self.result.value = None
            self._issue("syntax", fatal.message, fatal.offset)
        return self.result

    def _issue(
        self,
        kind: str,
        message: str,
        offset: int,
        edits: tuple[TextEdit, ...] | None = None,
        pointer: str | None = None,
    ) -> None:
        self.result.issues.append(SyntaxIssue(kind, message, offset, edits, pointer))

    def _describe(self, pos: int) -> str:
        if pos >= len(self.text):
            return "end of file"
        return f"character {self.text[pos]!r}"

    # -- lexical helpers --------------------------------------------------------------------
    def _skip(self) -> None:
        """Skip whitespace and (reported) comments."""
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in _WHITESPACE:
                self.pos += 1
            elif text.startswith("//", self.pos) or ch == "#":
                end = text.find("\n", self.pos)
                end = len(text) if end < 0 else end
                self._comment(self.pos, end)
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise _Fatal("unterminated /* comment", self.pos)
                self._comment(self.pos, end + 2)
            else:
                return

    def _comment(self, start: int, end: int) -> None:
        self._issue(
            "comment", "comments are not allowed in JSON", start, (TextEdit(start, end, ""),)
        )
        self.pos = end

    # -- values -----------------------------------------------------------------------------
    def _value(self, pointer: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Fatal(f"nesting deeper than {MAX_DEPTH} levels", self.pos)
        start = self.pos
        ch = self.text[self.pos] if self.pos < len(self.text) else ""
        value: Any
        if ch == "{":
            value = self._object(pointer, depth)
        elif ch == "[":
            value = self._array(pointer, depth)
        elif ch == '"':
            value = self._string(pointer)
        elif ch == "'":
            raise _Fatal("strings must use double quotes, not single quotes", self.pos)
        else:
            value = self._literal(pointer)
        self.result.value_spans[pointer] = Span(start, self.pos)
        return value

    def _object(self, pointer: str, depth: int) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        members: list[Member] = []
        self.result.members[pointer] = members
        if self._open("}"):
            return obj
        while True:
            if self._peek() != '"':
                raise _Fatal(f"expected a quoted key, found {self._describe(self.pos)}", self.pos)
            key_start = self.pos
            key = self._string(None)
            key_span = Span(key_start, self.pos)
            self._skip()
            if self._peek() != ":":
                raise _Fatal(f"expected ':' after key {key!r}", self.pos)
            self.pos += 1
            self._skip()
            member_pointer = child_pointer(pointer, key)
            value_start = self.pos
            value = self._value(member_pointer, depth + 1)
            value_span = Span(value_start, self.pos)
            if key in obj:
                self._duplicate(key, member_pointer, members, key_start)
            obj[key] = value
            members.append(Member(key, key_span, value_span, Span(key_start, self.pos)))
            if not self._separator("}", "object", members):
                return obj

    def _duplicate(self, key: str, pointer: str, members: list[Member], key_start: int) -> None:
        """Offer to delete the occurrence just before this one, up to the member that follows
        it: its separator goes with it whether the comma is there or missing, so the text stays
        JSON, and the edits of several duplicates never overlap (one pass keeps the last one,
        which is what ArcGIS reads)."""
        index = max(i for i, m in enumerate(members) if m.key == key)
        previous = members[index]
        following = members[index + 1].delete_span.start if index + 1 < len(members) else key_start
        self._issue(
            "duplicate_key",
            f"duplicate key {key!r}: JSON readers keep only the last one silently",
            previous.key_span.start,
            (TextEdit(previous.delete_span.start, following, ""),),
            pointer,
        )

    def _array(self, pointer: str, depth: int) -> list[Any]:
        items: list[Any] = []
        if self._open("]"):
            return items
        while True:
            items.append(self._value(child_pointer(pointer, len(items)), depth + 1))
            if not self._separator("]", "array", None):
                return items

    def _open(self, closer: str) -> bool:
        """Consume a container's opening bracket; True (closer consumed too) when it is empty."""
        self.pos += 1
        self._skip()
        if self._peek() == closer:
            self.pos += 1
            return True
        return False

    def _separator(self, closer: str, where: str, members: list[Member] | None) -> bool:
        """After a value: consume ',' (True: another item follows) or the closer (False)."""
        value_end = self.pos
        self._skip()
        ch = self._peek()
        if ch == closer:
            self.pos += 1
            return False
        if ch == ",":
            comma = self.pos
            self.pos += 1
            self._skip()
            if self._peek() == closer:
                self._issue(
                    "trailing_comma",
                    f"trailing comma before the end of the {where}",
                    comma,
                    (TextEdit(comma, comma + 1, ""),),
                )
                self.pos += 1
                return False
            return True
        starts_value = ch == '"' if members is not None else (ch in '"{[-tfn' or ch.isdigit())
        if starts_value:
            # right after the value, not after the last thing skipped: a comma put at the end
            # of a `// comment` would be commented out, and inserted again on every pass
            self._issue(
                "missing_comma",
                f"missing ',' between {where} items",
                value_end,
                (TextEdit(value_end, value_end, ","),),
            )
            return True
        raise _Fatal(f"expected ',' or '{closer}', found {self._describe(self.pos)}", self.pos)

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _string(self, pointer: str | None) -> str:
        text = self.text
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(text):
                raise _Fatal("unterminated string", start)
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\":
                out.append(self._escape(pointer))
                continue
            if ch < " ":
                escaped = f"\\u{ord(ch):04x}"
                self._issue(
                    "control_char",
                    f"raw control character {ch!r} inside a string; it must be escaped",
                    self.pos,
                    (TextEdit(self.pos, self.pos + 1, escaped),),
                    pointer,
                )
            out.append(ch)
            self.pos += 1

    def _escape(self, pointer: str | None) -> str:
        text = self.text
        nxt = text[self.pos + 1] if self.pos + 1 < len(text) else ""
        if nxt in _SIMPLE_ESCAPES:
            self.pos += 2
            return _SIMPLE_ESCAPES[nxt]
        if nxt == "u":
            digits = text[self.pos + 2 : self.pos + 6]
            if len(digits) == 4 and all(c in _HEX for c in digits):
                self.pos += 6
                code = int(digits, 16)
                low = text[self.pos + 2 : self.pos + 6]
                is_pair = 0xD800 <= code < 0xDC00 and text.startswith("\\u", self.pos)
                if is_pair and len(low) == 4 and all(c in _HEX for c in low):
                    low_code = int(low, 16)
                    if 0xDC00 <= low_code < 0xE000:  # a UTF-16 surrogate pair: one character
                        self.pos += 6
                        return chr(0x10000 + ((code - 0xD800) << 10) + (low_code - 0xDC00))
                return chr(code)
        self._issue(
            "invalid_escape",
            f"unescaped backslash before {nxt!r}: write '\\\\' for a literal backslash",
            self.pos,
            (TextEdit(self.pos, self.pos + 1, "\\\\"),),
            pointer,
        )
        self.pos += 1
        return "\\"

    def _literal(self, pointer: str) -> Any:
        text = self.text
        for word, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        for word, number in (("NaN", math.nan), ("Infinity", math.inf), ("-Infinity", -math.inf)):
            if text.startswith(word, self.pos):
                self._issue(
                    "non_finite",
                    f"{word} is not valid JSON (only Python's reader accepts it)",
                    self.pos,
                    None,
                    pointer,
                )
                self.pos += len(word)
                return number
        return self._number()

    def _number(self) -> int | float:
        text = self.text
        start = self.pos
        if self._peek() == "-":
            self.pos += 1
        int_start = self.pos
        if not self._digits():
            raise _Fatal(f"expected a JSON value, found {self._describe(start)}", start)
        if text[int_start] == "0" and self.pos - int_start > 1:
            raise _Fatal("numbers must not have leading zeros", start)
        is_float = False
        if self._peek() == ".":
            is_float = True
            self.pos += 1
            if not self._digits():
                raise _Fatal("expected digits after the decimal point", self.pos)
        if self._peek() in ("e", "E"):
            is_float = True
            self.pos += 1
            if self._peek() in ("+", "-"):
                self.pos += 1
            if not self._digits():
                raise _Fatal("expected digits in the exponent", self.pos)
        literal = text[start : self.pos]
        if not is_float and self.pos - int_start > MAX_INT_DIGITS:
            raise _Fatal(  # Python's json (what ArcGIS reads an .emd with) refuses it too
                f"an integer of {self.pos - int_start} digits; at most {MAX_INT_DIGITS} are read",
                start,
            )
        return float(literal) if is_float else int(literal)

    def _digits(self) -> bool:
        """Consume ASCII digits (not other Unicode digits); True when there was at least one."""
        text, start = self.text, self.pos
        while self.pos < len(text) and text[self.pos].isdigit() and text[self.pos].isascii():
            self.pos += 1
        return self.pos > start


def parse_json_bytes(data: bytes) -> ParsedJson:
    text, issue = decode_json_bytes(data)
    if text is None:
        parsed = ParsedJson(text="")
        if issue is not None:
            parsed.issues.append(issue)
        return parsed
    return parse_json_text(text)


def parse_json_text(text: str) -> ParsedJson:
    """Parse `text`, recording issues; never raises on any input."""
    return parse(text)
