"""Applying fixes: text edits on the .emd, verified round by round until nothing fixable remains.

Every round is checked before it is kept: the result must parse at least as well as the input
(no new fatal syntax error), must hold every value the input held except the one value or key a
fix means to change (`Intent`), must not lint with more errors, and must remove each problem it
fixed. A round that fails is retried one fix at a time; a fix that fails alone is refused, not
applied, and stays among the remaining diagnostics with a note saying why. The rounds are
bounded: a text that does not settle is reported (`converged` False), never made worse.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dlpk.validator.diagnostics import Diagnostic, Severity, TextEdit
from dlpk.validator.jsonparser import parse_json_text
from dlpk.validator.jsontext import ParsedJson, child_pointer

MAX_ROUNDS = 16

Lint = Callable[[str], list[Diagnostic]]
_Key = tuple[str, str | None, str]
_Token = tuple[str, ...]


def _conflict(a: TextEdit, b: TextEdit) -> bool:
    """Edits that overlap, or an insertion touching another edit: applying both is ambiguous."""
    if a.start < b.end and b.start < a.end:
        return True
    inserts = a.start == a.end or b.start == b.end
    return inserts and (a.start == b.end or b.start == a.end or a.start == b.start)


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """Apply non-conflicting edits (a conflicting later one is skipped, applied next round)."""
    chosen: list[TextEdit] = []
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if not any(_conflict(edit, other) for other in chosen):
            chosen.append(edit)
    for edit in sorted(chosen, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.replacement + text[edit.end :]
    return text


def is_applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and bool(fix.edits) and (fix.safe or unsafe)


def _edits(diagnostic: Diagnostic) -> tuple[TextEdit, ...]:
    return diagnostic.fix.edits if diagnostic.fix is not None else ()


def _compatible(candidates: list[Diagnostic]) -> list[Diagnostic]:
    """The fixes, in text order, whose edits all fit beside the ones chosen before them."""
    chosen: list[Diagnostic] = []
    taken: list[TextEdit] = []
    ordered = sorted(candidates, key=lambda d: min((e.start, e.end) for e in _edits(d)))
    for diagnostic in ordered:
        edits = _edits(diagnostic)
        if not any(_conflict(e, t) for e in edits for t in taken):
            chosen.append(diagnostic)
            taken += edits
    return chosen


def _key(diagnostic: Diagnostic) -> _Key:
    return (diagnostic.code, diagnostic.pointer, diagnostic.message)


# -- what a parsed document holds -----------------------------------------------------------
def flatten(
    value: Any, pointer: str = "", out: dict[str, _Token] | None = None
) -> dict[str, _Token]:
    """Every JSON Pointer of `value` with what it holds: a container's kind (and an array's
    length) or a scalar's type and repr (so NaN equals NaN, and 1, 1.0 and True differ)."""
    found: dict[str, _Token] = {} if out is None else out
    if isinstance(value, dict):
        found[pointer] = ("object",)
        for key, item in value.items():
            flatten(item, child_pointer(pointer, key), found)
    elif isinstance(value, list):
        found[pointer] = ("array", str(len(value)))
        for index, item in enumerate(value):
            flatten(item, child_pointer(pointer, index), found)
    else:
        found[pointer] = (type(value).__name__, repr(value))
    return found


def _subtree(flat: dict[str, _Token], pointer: str) -> list[str]:
    return [p for p in flat if p == pointer or p.startswith(pointer + "/")]


@dataclass(frozen=True)
class Intent:
    """What one fix means to change in the parsed document: nothing (a syntax repair: the
    value read stays the same, a deleted duplicate included, since readers keep the last one),
    the value at `pointer` (becoming `value`), or the key at `pointer` (renamed `new_key`)."""

    kind: str  # "keep", "value" or "rename"
    pointer: str = ""
    value: Any = None
    new_key: str = ""


def intent_of(diagnostic: Diagnostic, parsed: ParsedJson) -> Intent:
    """Read the intent off the edit: a replacement of exactly the value or the key token that
    the diagnostic points at; anything else must leave the document as it was."""
    edits = _edits(diagnostic)
    pointer = diagnostic.pointer
    if len(edits) != 1 or pointer is None or not parsed.ok:
        return Intent("keep")
    edit = edits[0]
    try:
        replacement = json.loads(edit.replacement)
    except ValueError:
        return Intent("keep")
    span = parsed.value_spans.get(pointer)
    if span is not None and (span.start, span.end) == (edit.start, edit.end):
        return Intent("value", pointer, value=replacement)
    key_span = parsed.key_span(pointer)
    is_key = key_span is not None and (key_span.start, key_span.end) == (edit.start, edit.end)
    if is_key and isinstance(replacement, str):
        return Intent("rename", pointer, new_key=replacement)
    return Intent("keep")


def expected_after(before: Any, intents: list[Intent]) -> dict[str, _Token] | str:
    """The flattened document the fixes should produce, or why they cannot all hold at once."""
    expected = flatten(before)
    for intent in intents:
        if intent.kind == "keep":
            continue
        moved = _subtree(expected, intent.pointer)
        if not moved:
            return f"{intent.pointer} is not in the document"
        if intent.kind == "value":
            for pointer in moved:
                del expected[pointer]
            expected |= flatten(intent.value, intent.pointer)
            continue
        parent = intent.pointer.rpartition("/")[0]
        target = child_pointer(parent, intent.new_key)
        if target != intent.pointer and _subtree(expected, target):
            return f"renaming {intent.pointer} would collide with {target}"
        tokens = {pointer: expected.pop(pointer) for pointer in moved}
        for pointer, token in tokens.items():
            expected[target + pointer[len(intent.pointer) :]] = token
    return expected


def _first_difference(expected: dict[str, _Token], actual: dict[str, _Token]) -> str | None:
    for pointer in sorted(expected.keys() | actual.keys()):
        if expected.get(pointer) != actual.get(pointer):
            return pointer or "(the document)"
    return None


def _fatal(parsed: ParsedJson) -> str | None:
    return None if parsed.ok else (parsed.issues[-1].message if parsed.issues else "unreadable")


# -- one verified round ---------------------------------------------------------------------
@dataclass(frozen=True)
class _State:
    text: str
    parsed: ParsedJson
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)


def _state(text: str, lint: Lint) -> _State:
    return _State(text, parse_json_text(text), lint(text))


def verify(before: _State, fixes: list[Diagnostic], lint: Lint) -> _State | str:
    """The state after applying `fixes` to `before`, or why that result must not be kept."""
    text = apply_edits(before.text, [e for d in fixes for e in _edits(d)])
    if text == before.text:
        return "it changes nothing"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "the result would not be UTF-8 text"
    parsed = parse_json_text(text)
    fatal, was_fatal = _fatal(parsed), _fatal(before.parsed)
    if fatal is not None and fatal != was_fatal:
        return f"the result would not be valid JSON ({fatal})"
    if before.parsed.ok and parsed.ok:
        expected = expected_after(before.parsed.value, [intent_of(d, before.parsed) for d in fixes])
        if isinstance(expected, str):
            return expected
        lost = _first_difference(expected, flatten(parsed.value))
        if lost is not None:
            return f"the result would lose or change the value at {lost}"
    after = _State(text, parsed, lint(text))
    if after.errors > before.errors:
        return f"the result would lint with {after.errors} errors instead of {before.errors}"
    was, now, fixed = (
        Counter(map(_key, before.diagnostics)),
        Counter(map(_key, after.diagnostics)),
        Counter(map(_key, fixes)),
    )
    if any(now[key] > was[key] - count for key, count in fixed.items()):
        return "the problem would still be there afterwards"
    return after


def _round(
    state: _State, candidates: list[Diagnostic], lint: Lint
) -> tuple[_State | None, list[Diagnostic], dict[_Key, str]]:
    """Apply the largest verified set of fixes found greedily: all that fit together when they
    verify together, else each in text order that still verifies with those kept before it.
    A fix that fails even alone is refused; one that fails only beside the others, or whose
    edits collide with theirs, waits for the next round. Returns the new state (None: every
    fix was refused), the fixes applied and the reasons for the refusals."""
    batch = _compatible(candidates)
    result = verify(state, batch, lint)
    if isinstance(result, _State):
        return result, batch, {}
    kept: list[Diagnostic] = []
    current: _State | None = None
    refused: dict[_Key, str] = {}
    for diagnostic in batch + [d for d in candidates if d not in batch]:
        edits = _edits(diagnostic)
        if any(_conflict(e, t) for e in edits for k in kept for t in _edits(k)):
            continue
        trial = verify(state, [*kept, diagnostic], lint)
        if kept and not isinstance(trial, _State):
            alone = verify(state, [diagnostic], lint)
            if isinstance(alone, _State):
                continue
            trial = alone
        if isinstance(trial, _State):
            kept.append(diagnostic)
            current = trial
        else:
            refused.setdefault(_key(diagnostic), trial)
    return current, kept, refused


@dataclass
class FixOutcome:
    text: str
    applied: list[Diagnostic]
    remaining: list[Diagnostic]
    refused: list[Diagnostic] = field(default_factory=list)  # with the reason in the message
    converged: bool = True


def _with_note(diagnostic: Diagnostic, reason: str) -> Diagnostic:
    return replace(diagnostic, message=f"{diagnostic.message} [fix not applied: {reason}]")


def fix_text(text: str, lint: Lint, unsafe: bool) -> FixOutcome:
    """Lint, apply the applicable fixes that verify, and repeat: fixing syntax can reveal value
    problems. The text returned is never worse than `text` by any of `verify`'s measures."""
    applied: list[Diagnostic] = []
    state = _state(text, lint)
    seen = {state.text}
    refused: dict[_Key, str] = {}
    converged = False
    for _ in range(MAX_ROUNDS):
        candidates = [d for d in state.diagnostics if is_applicable(d, unsafe)]
        if not candidates:
            converged, refused = True, {}
            break
        new_state, done, refused = _round(state, candidates, lint)
        if new_state is None:
            converged = True  # every fix left was refused: a second run would refuse them too
            break
        if new_state.text in seen:
            refused = {_key(d): "the fixes undo each other" for d in done}
            break
        seen.add(new_state.text)
        applied += done
        state = new_state
    else:
        leftover = [d for d in state.diagnostics if is_applicable(d, unsafe)]
        refused = refused | {
            _key(d): f"fixing did not settle after {MAX_ROUNDS} rounds" for d in leftover
        }
    remaining: list[Diagnostic] = []
    notes: list[Diagnostic] = []
    for diagnostic in state.diagnostics:
        reason = refused.get(_key(diagnostic)) if is_applicable(diagnostic, unsafe) else None
        if reason is not None:
            diagnostic = _with_note(diagnostic, reason)
            notes.append(diagnostic)
        remaining.append(diagnostic)
    return FixOutcome(state.text, applied, remaining, notes, converged)
