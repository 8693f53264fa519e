"""Properties: lint never raises, normalize is idempotent, fix leaves no safe fix behind."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlpk.errors import PackageError
from dlpk.spec.emd_schema import canonical_key_order
from dlpk.validator.fixes import fix_text
from dlpk.validator.jsonparser import parse_json_text
from dlpk.validator.lint import LintOptions, lint_emd_bytes, lint_package
from dlpk.validator.normalize import normalize_text

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
emd_keys = st.sampled_from(
    [*canonical_key_order(), "modelfile", "Modeltype", "imageheight", "custom", "Classes"]
)
class_entries = st.dictionaries(
    st.sampled_from(["Value", "Name", "Color", "ClassValue", "ClassName", "Ccolor", "name"]),
    json_scalars | st.lists(st.integers(-2, 300), min_size=3, max_size=3),
    max_size=4,
)
emd_documents = st.dictionaries(
    emd_keys,
    json_values
    | st.lists(class_entries, max_size=3)
    | st.sampled_from(["ObjectionDetection", "256", "[0, 1, 2]", ".\\m.pth", "C:\\x\\m.pth"]),
    max_size=10,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_lint_never_raises_on_any_json_value(value: Any) -> None:
    result = lint_emd_bytes(json.dumps(value).encode(), "x.emd")
    assert isinstance(result.diagnostics, list)


@settings(max_examples=300, deadline=None)
@given(emd_documents)
def test_lint_never_raises_on_emd_like_documents(doc: dict[str, Any]) -> None:
    result = lint_emd_bytes(json.dumps(doc).encode(), "x.emd")
    assert result.document == doc


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_lint_never_raises_on_any_bytes(data: bytes) -> None:
    assert isinstance(lint_emd_bytes(data, "x.emd").diagnostics, list)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]",:\\/ \n\tabe0123.-+truefalsn#*\ufeff', max_size=80))
def test_lint_never_raises_on_json_like_text(text: str) -> None:
    diagnostics = lint_emd_bytes(text.encode(), "x.emd").diagnostics
    parsed = parse_json_text(text)
    for diagnostic in diagnostics:
        if diagnostic.line is not None:
            assert 1 <= diagnostic.line <= text.count("\n") + 1
    if parsed.ok and not parsed.issues:
        assert json.loads(text) == parsed.value or text.strip() in ("NaN",)


archives = st.lists(
    st.tuples(
        st.sampled_from(["model.emd", "a/model.emd", "x.onnx", "../x", "/abs", "a\\b", "m.emd"]),
        st.binary(max_size=40) | st.just(json.dumps({"ModelFile": "x.onnx"}).encode()),
    ),
    max_size=5,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(archives, st.integers(min_value=0, max_value=400), st.binary(max_size=8))
def test_lint_never_raises_on_any_zip(
    tmp_path: Path, members: list[tuple[str, bytes]], cut: int, junk: bytes
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    raw = buffer.getvalue()
    path = tmp_path / "p.dlpk"
    for variant in (raw, raw[:cut] + junk + raw[cut + len(junk) :]):
        path.write_bytes(variant)
        assert isinstance(lint_package(path, LintOptions()), list)


@settings(max_examples=300, deadline=None)
@given(emd_documents)
def test_normalize_is_idempotent(doc: dict[str, Any]) -> None:
    try:
        once = normalize_text(json.dumps(doc))
    except PackageError as exc:  # two keys would become one: refused, not merged
        assert "would both become" in str(exc)
        return
    assert normalize_text(once) == once
    assert isinstance(json.loads(once), dict)


def _lint(text: str) -> list[Any]:
    return lint_emd_bytes(text.encode("utf-8"), "x.emd").diagnostics


@settings(max_examples=200, deadline=None)
@given(emd_documents, st.sampled_from(["", ",", "bom", "comment", "dup"]))
def test_after_fix_no_safe_fix_remains(doc: dict[str, Any], damage: str) -> None:
    text = json.dumps(doc, indent=2)
    if damage == "," and text.endswith("}") and doc:
        text = text[:-2] + ",\n}"
    elif damage == "bom":
        text = "\ufeff" + text
    elif damage == "comment":
        text = "// hand edited\n" + text
    elif damage == "dup" and doc:
        text = text.replace("{", '{"ModelType": "x", ', 1)
    outcome = fix_text(text, _lint, unsafe=False)
    refused = {(d.code, d.pointer) for d in outcome.refused}  # fixes that failed verification
    remaining = [
        d
        for d in _lint(outcome.text)
        if d.fix is not None and d.fix.safe and d.fix.edits and (d.code, d.pointer) not in refused
    ]
    assert remaining == []
