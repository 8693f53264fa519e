"""Text for a terminal: what came from a package, a path or a job, its control characters shown.

A name or message from a package can hold escape sequences that a terminal obeys: set the window
title, clear the screen, write the clipboard (OSC 52), or reorder what is shown (bidi overrides,
the "Trojan Source" trick). Every report meant for people passes such text through
`terminal_safe`, which replaces each dangerous code point with a visible escape (`\\x1b`,
`\\u202e`, `\\n`); machine formats (JSON, SARIF) escape them as JSON does instead.

Escaped: C0 controls (tab, newline and carriage return included: a single-line field never
breaks a line), DEL and the C1 range (U+0080-U+009F, where U+009B is a one-byte CSI), the bidi
embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and marks (U+200E, U+200F,
U+061C), the line and paragraph separators (U+2028, U+2029), and lone surrogates (a JSON
`\\ud800` or an undecodable file name), which no terminal encoding can even write.
"""

from __future__ import annotations

import re

_UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_SINGLE_LINE = re.compile(f"[{_UNSAFE}]")
# a block of text that is meant to span lines (a job's log, a diff): its newlines and tabs stay
_MULTI_LINE = re.compile(f"(?![\n\t])[{_UNSAFE}]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal_safe(text: object, *, multiline: bool = False) -> str:
    """`text` (str() of it) with every terminal-dangerous code point as a visible escape.

    Apply it to each piece of data, not to a report that holds the reporter's own colour codes;
    `multiline` keeps newlines and tabs, for text that is one block of lines by nature.
    """
    value = text if isinstance(text, str) else str(text)
    return (_MULTI_LINE if multiline else _SINGLE_LINE).sub(_visible, value)
