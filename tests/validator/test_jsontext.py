"""The position-aware JSON reader agrees with Python's json and locates problems exactly."""

from __future__ import annotations

import json

import pytest

from dlpk.validator.fixes import apply_edits
from dlpk.validator.jsonparser import parse_json_text

VALID = [
    '{"a": [1, 2.5, -3e2, true, false, null], "b": {"c": "\\u00e9\\n\\"", "d": []}}',
    '"\\ud83d\\ude00"',
    "[]",
    '  {"nested": [[[{"x": 0}]]]}  ',
]


@pytest.mark.parametrize("text", VALID)
def test_valid_json_matches_the_standard_library(text: str) -> None:
    parsed = parse_json_text(text)
    assert parsed.ok and parsed.issues == []
    assert parsed.value == json.loads(text)


@pytest.mark.parametrize(
    ("text", "kind", "line", "column", "repaired"),
    [
        ('{"a": 1,\n}', "trailing_comma", 1, 8, '{"a": 1\n}'),
        ('{\n  "p": "C:\\Models"\n}', "invalid_escape", 2, 11, '{\n  "p": "C:\\\\Models"\n}'),
        ('{"a": 1 "b": 2}', "missing_comma", 1, 8, '{"a": 1, "b": 2}'),
        ('{"a": 1, "a": 2}', "duplicate_key", 1, 2, '{"a": 2}'),
        ('\ufeff{"a": 1}', "bom", 1, 1, '{"a": 1}'),
        ('{"a": 1 /* why */}', "comment", 1, 9, '{"a": 1 }'),
    ],
)
def test_recoverable_issue_is_located_and_repairable(
    text: str, kind: str, line: int, column: int, repaired: str
) -> None:
    parsed = parse_json_text(text)
    issue = next(i for i in parsed.issues if i.kind == kind)
    assert parsed.line_col(issue.offset) == (line, column)
    assert issue.edits is not None
    fixed = apply_edits(text, list(issue.edits))
    assert fixed == repaired
    assert json.loads(fixed) == parsed.value


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [('{"a": tru}', 1, 7), ('{\n"a": [1,\n', 3, 1), ("{'a': 1}", 1, 2), ('{"a": 01}', 1, 7)],
)
def test_fatal_errors_report_exact_position(text: str, line: int, column: int) -> None:
    parsed = parse_json_text(text)
    assert not parsed.ok
    issue = parsed.issues[-1]
    assert issue.kind == "syntax"
    assert parsed.line_col(issue.offset) == (line, column)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    parsed = parse_json_text("[" * 10000)
    assert not parsed.ok and "nesting" in parsed.issues[-1].message


def test_spans_and_pointers() -> None:
    text = '{"Classes": [{"Value": 1, "a/b": 2}]}'
    parsed = parse_json_text(text)
    span = parsed.value_spans["/Classes/0/Value"]
    assert text[span.start : span.end] == "1"
    key = parsed.key_span("/Classes/0/a~1b")
    assert key is not None and text[key.start : key.end] == '"a/b"'
