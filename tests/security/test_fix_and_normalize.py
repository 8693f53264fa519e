"""`fix` and `normalize` never damage a file: hostile-input cases, then properties over fuzzed .emd.

`fix` keeps every value the input held except what the applied rule means to change, never lints
worse, settles (a second run changes nothing), and exits 1 while any error is left, a package's
own included. `normalize` refuses to merge keys rather than drop a value, and is idempotent.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlpk
from dlpk.cli.main import main
from dlpk.errors import PackageError
from dlpk.validator.diagnostics import Diagnostic, Fix, Severity, TextEdit
from dlpk.validator.files import MemberIndex, to_relative_posix
from dlpk.validator.fixes import MAX_ROUNDS, fix_text, flatten
from dlpk.validator.jsonparser import parse_json_text
from dlpk.validator.jsontext import child_pointer
from dlpk.validator.lint import lint_emd_bytes
from dlpk.validator.normalize import normalize_text
from tests.corpus.packages import BUILDERS, EMD
from tests.validator.test_properties import class_entries, emd_documents, emd_keys, json_scalars

# -- helpers --------------------------------------------------------------------------------
MEMBERS = ["model.emd", "model.onnx", "M.pth", "weights/Model.onnx"]


def _lint(text: str) -> list[Diagnostic]:
    """Lint as inside a package holding MEMBERS, so the case fixes (DL502) are offered too."""
    index = MemberIndex(MEMBERS)
    return lint_emd_bytes(text.encode("utf-8"), "x.dlpk", "model.emd", index, True).diagnostics


def _errors(text: str) -> int:
    return sum(d.severity is Severity.ERROR for d in _lint(text))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return ValueError


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _model_folder(tmp_path: Path, emd_text: str) -> Path:
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")
    return _write(tmp_path / "model.emd", emd_text)


def _emd_body(**extra: Any) -> str:
    """The members of a clean .emd after the first brace, to splice damage in front of."""
    return json.dumps(EMD | extra)[1:]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the audit's cases ----------------------------------------------------------------------
def test_duplicate_key_with_missing_comma_is_fixed_into_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '{"ModelName": "x" "ModelName": "y", ' + _emd_body()
    emd = _model_folder(tmp_path, text)
    code, out, _ = _cli(capsys, "fix", str(emd))
    fixed = json.loads(emd.read_text(encoding="utf-8"))
    assert fixed == EMD | {"ModelName": "y"}
    assert code == 0 and "fixed DL106" in out
    assert dlpk.fix(emd).applied == []  # settled


def test_duplicate_key_edits_never_leave_a_stray_comma() -> None:
    for text in (
        '{"a": 1 "a": 2}',
        '{"a": 1 /* c */ , "a": 2}',
        '{"a": 1, "b": 2, "a": 3}',
        '{"a": 1, "a": 2, "a": 3, "a": 4}',
        '{"a": {"a": 1, "a": 2}, "a": [1, 2]}',
    ):
        parsed = parse_json_text(text)
        outcome = fix_text(text, _lint, unsafe=False)
        assert parse_json_text(outcome.text).ok, outcome.text
        assert json.loads(outcome.text.replace("/* c */", "")) == parsed.value
        assert not any(d.code == "DL106" for d in outcome.remaining)


@pytest.mark.parametrize("comment", ["// why\n", "/* why */", "# why\n"])
def test_comment_before_a_missing_comma_gets_exactly_one_comma(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], comment: str
) -> None:
    text = '{"ModelName": "x" ' + comment + " " + _emd_body()
    emd = _model_folder(tmp_path, text)
    code, _, err = _cli(capsys, "fix", str(emd))
    once = emd.read_text(encoding="utf-8")
    assert once.count(",") == text.count(",") + 1
    assert once.startswith('{"ModelName": "x",')
    assert parse_json_text(once).ok
    assert code == 1 and "remaining DL103" in err  # the comment needs --unsafe
    assert dlpk.fix(emd).applied == [] and emd.read_text(encoding="utf-8") == once
    code, _, _ = _cli(capsys, "fix", "--unsafe", str(emd))
    assert code == 0
    assert json.loads(emd.read_text(encoding="utf-8")) == EMD | {"ModelName": "x"}


def test_case_variant_keys_are_not_merged_by_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = _emd_body().replace('"ModelFile": "model.onnx", ', "")
    text = '{"modelFile": "a.onnx", "MODELFILE": "b.onnx", ' + body
    emd = _model_folder(tmp_path, text)
    _cli(capsys, "fix", str(emd))
    fixed = json.loads(emd.read_text(encoding="utf-8"))
    assert sorted(v for k, v in fixed.items() if k.lower() == "modelfile") == ["a.onnx", "b.onnx"]


def test_normalize_refuses_keys_that_would_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '{"modelFile": "a.onnx", "MODELFILE": "b.onnx"}'
    emd = _write(tmp_path / "m.emd", text)
    with pytest.raises(PackageError, match="'modelFile' and 'MODELFILE'"):
        dlpk.normalize(emd)
    code, out, err = _cli(capsys, "normalize", "--check", str(emd))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "'modelFile' and 'MODELFILE'" in err and str(emd) in err
    target = tmp_path / "out.emd"
    code, _, err = _cli(capsys, "normalize", str(emd), "-o", str(target))
    assert code == 1 and "would both become 'ModelFile'" in err
    assert not target.exists() and emd.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("entry", "keys"),
    [
        ('{"ClassName": "a", "name": "b", "Value": 1}', "'ClassName' and 'name'"),
        ('{"Value": 1, "Name": "a",\n "Name": "b"}', "'Name' appears twice"),
    ],
)
def test_normalize_refuses_a_key_twice_in_a_class_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, keys: str
) -> None:
    emd = _write(tmp_path / "m.emd", '{"ModelType": "x", "Classes": [' + entry + "]}")
    with pytest.raises(PackageError, match=keys):
        dlpk.normalize(emd)
    good = _write(tmp_path / "good.emd", normalize_text(json.dumps(EMD)))
    code, _, err = _cli(capsys, "normalize", "--check", str(good), str(emd))
    assert code == 1 and keys in err and str(good) not in err


def test_normalize_still_keeps_a_canonical_key_beside_its_variant(tmp_path: Path) -> None:
    emd = _write(tmp_path / "m.emd", '{"modelfile": "a.onnx", "ModelFile": "b.onnx"}')
    assert json.loads(dlpk.normalize(emd)) == {"ModelFile": "b.onnx", "modelfile": "a.onnx"}


@pytest.mark.parametrize(
    ("builder", "code"),
    [("symlink_member", "DL706"), ("duplicate_member", "DL708"), ("bomb", "DL709")],
)
def test_fix_fails_while_package_errors_remain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], builder: str, code: str
) -> None:
    package = tmp_path / "p.dlpk"
    BUILDERS[builder](package)
    report = dlpk.fix(package)
    assert not report.ok and code in {d.code for d in report.remaining}
    status, _, err = _cli(capsys, "fix", str(package))
    assert status == 1 and f"remaining {code}" in err
    status, _, err = _cli(capsys, "fix", str(package), "-o", str(tmp_path / "out.dlpk"))
    assert status == 1 and f"remaining {code}" in err


def test_fix_of_a_package_reports_what_it_fixed_and_what_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "p.dlpk"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("model.emd", json.dumps(EMD)[:-1] + ",}")
        archive.writestr("model.onnx", b"x")
        link = zipfile.ZipInfo("link")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    status, out, err = _cli(capsys, "fix", str(package))
    assert status == 1 and "fixed DL102" in out and "remaining DL706" in err
    assert json.loads(zipfile.ZipFile(package).read("model.emd")) == EMD


# -- the verifier, on fixes that would do damage ----------------------------------------------
def _offering(*fixes: tuple[str, TextEdit]) -> Any:
    """A lint that reports a real lint's findings plus safe fixes with the given edits."""

    def lint(text: str) -> list[Diagnostic]:
        extra = [
            Diagnostic("DL999", Severity.ERROR, message, "x.emd", fix=Fix("bad", True, (edit,)))
            for message, edit in fixes
            if edit.end <= len(text)
        ]
        return _lint(text) + extra

    return lint


TEXT = '{"ModelType": "ObjectDetection", "ImageHeight": 256}'


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (TextEdit(0, 1, ""), "would not be valid JSON"),  # the opening brace
        (TextEdit(1, 33, ""), "lose or change the value at /ModelType"),  # a whole member
        (TextEdit(15, 21, "Pixel"), "lose or change the value at /ModelType"),  # a value
        (TextEdit(1, 1, '"ImageHeight": 256, '), "would lint with"),  # a new duplicate
        (TextEdit(1, 1, " "), "still be there"),  # the problem stays
    ],
)
def test_a_damaging_fix_is_refused_with_a_note(edit: TextEdit, reason: str) -> None:
    outcome = fix_text(TEXT, _offering(("always", edit)), unsafe=False)
    assert outcome.text == TEXT and outcome.applied == [] and outcome.converged
    (note,) = outcome.refused
    assert note.code == "DL999" and "fix not applied" in note.message and reason in note.message


def test_a_refused_fix_does_not_stop_the_good_ones() -> None:
    text = TEXT[:-1] + ",}"
    outcome = fix_text(text, _offering(("always", TextEdit(0, 1, ""))), unsafe=False)
    assert outcome.text == TEXT and [d.code for d in outcome.applied] == ["DL102"]
    assert [d.code for d in outcome.refused] == ["DL999"]


def test_fixes_that_never_settle_stop_without_damage() -> None:
    def lint(text: str) -> list[Diagnostic]:
        grow = Fix("grow", True, (TextEdit(len(text), len(text), " "),))  # new each time
        return [*_lint(text), Diagnostic("DL999", Severity.WARNING, f"{len(text)}", "x", fix=grow)]

    outcome = fix_text(TEXT, lint, unsafe=False)
    assert not outcome.converged and len(outcome.applied) == MAX_ROUNDS
    assert json.loads(outcome.text) == json.loads(TEXT)
    assert "did not settle" in outcome.refused[0].message


def test_fix_exits_1_when_it_does_not_settle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlpk.packaging import fix as packaging_fix
    from dlpk.validator.fixes import FixOutcome

    emd = _model_folder(tmp_path, json.dumps(EMD))

    def unsettled(text: str, lint: Any, unsafe: bool) -> FixOutcome:
        return FixOutcome(text, [], [], [], converged=False)

    monkeypatch.setattr("dlpk.validator.fixes.fix_text", unsettled)
    assert packaging_fix.fix_path(emd).converged is False
    code, _, err = _cli(capsys, "fix", str(emd))
    assert code == 1 and "did not settle" in err


# -- fuzzed .emd text ---------------------------------------------------------------------------
def _tokens(value: Any) -> list[str]:
    if isinstance(value, dict):
        out = ["{"]
        for i, (key, item) in enumerate(value.items()):
            out += [","] if i else []
            out += [json.dumps(key), ":", *_tokens(item)]
        return [*out, "}"]
    if isinstance(value, list):
        out = ["["]
        for i, item in enumerate(value):
            out += [","] if i else []
            out += _tokens(item)
        return [*out, "]"]
    return [json.dumps(value)]


MUTATIONS = ["drop_comma", "extra_comma", "comment", "member", "variant", "control", "escape"]
mutation = st.tuples(
    st.sampled_from(MUTATIONS),
    st.integers(min_value=0, max_value=1 << 16),
    emd_keys | st.sampled_from(["Value", "Name", "Color", "ClassValue", "name", "COLOR"]),
    json_scalars,
)
separators = st.sampled_from([" ", "", "\n", "\n  "])


def _mutate(tokens: list[str], kind: str, at: int, key: str, value: Any) -> list[str]:
    """One hand-editing mistake, at a place picked by `at` among those where it can occur."""

    def where(predicate: Any) -> int | None:
        places = [i for i, token in enumerate(tokens) if predicate(i, token)]
        return places[at % len(places)] if places else None

    tokens = list(tokens)
    if kind == "drop_comma" and (i := where(lambda i, t: t == ",")) is not None:
        del tokens[i]
    elif kind == "extra_comma":
        i = where(lambda i, t: t in "}]" and i > 0 and tokens[i - 1] not in "{[")
        if i is not None:
            tokens.insert(i, ",")
    elif kind == "comment":
        i = where(lambda i, t: True)
        if i is not None:
            tokens.insert(i, ["// c\n", "/* c */", "# c\n", "/* , */"][at % 4])
    elif kind in ("member", "variant") and (i := where(lambda i, t: t == "{")) is not None:
        if kind == "variant":
            key = [key.upper(), key.lower(), key.swapcase(), key][at % 4]
        comma = [] if tokens[i + 1] == "}" else [","]
        tokens[i + 1 : i + 1] = [json.dumps(key), ":", json.dumps(value), *comma]
    elif kind in ("control", "escape"):
        i = where(lambda i, t: t.startswith('"') and t.endswith('"') and len(t) > 1)
        if i is not None:
            tokens[i] = tokens[i][:-1] + ("\t" if kind == "control" else "\\q") + '"'
    return tokens


@st.composite
def damaged_emd_texts(draw: st.DrawFn) -> str:
    doc = draw(emd_documents | st.builds(lambda c: EMD | {"Classes": c}, st.lists(class_entries)))
    tokens = _tokens(doc)
    for kind, at, key, value in draw(st.lists(mutation, max_size=4)):
        tokens = _mutate(tokens, kind, at, key, value)
    separator = draw(separators)
    bom = "\ufeff" if draw(st.integers(0, 9)) == 0 else ""
    return bom + separator.join(tokens)


SYNTAX_CODES = {f"DL1{n:02d}" for n in range(13)} - {"DL111"}  # DL111 rewrites a path value
RENAME_CODES = {"DL201", "DL305"}


def _in(pointer: str, root: str) -> bool:
    return pointer == root or pointer.startswith(root + "/")


def _assert_values_kept(before: Any, after: Any, applied: list[Diagnostic]) -> None:
    """Every (pointer, value) of `before` is in `after`, following the renames that were applied,
    unless an applied value fix meant to change it; and `after` holds nothing else. Syntax fixes
    change nothing in the parsed document (a deleted duplicate is the one readers drop anyway)."""
    old, new = flatten(before), flatten(after)
    where = {pointer: pointer for pointer in old}  # input pointer -> where it is now
    changed: list[str] = []  # subtrees (as now located) that a value fix rewrote
    for d in applied:
        if d.code in SYNTAX_CODES or d.pointer is None:
            continue
        assert d.fix is not None
        if d.code in RENAME_CODES:
            parent = d.pointer.rpartition("/")[0]
            target = child_pointer(parent, json.loads(d.fix.edits[0].replacement))

            def moved(now: str, root: str = d.pointer, to: str = target) -> str:
                return to + now[len(root) :] if _in(now, root) else now

            where = {pointer: moved(now) for pointer, now in where.items()}
            changed = [moved(root) for root in changed]
        else:
            changed.append(d.pointer)
    for pointer, token in old.items():
        now = where[pointer]
        if any(_in(now, root) for root in changed):
            continue
        assert new.get(now) == token, f"{pointer} (now {now}) lost or changed"
    allowed = set(where.values())
    for pointer in new:
        assert pointer in allowed or any(_in(pointer, root) for root in changed), pointer


def _check_fix(text: str, unsafe: bool) -> None:
    before = parse_json_text(text)
    outcome = fix_text(text, _lint, unsafe)
    after = parse_json_text(outcome.text)
    if before.ok:
        assert after.ok, outcome.text
        _assert_values_kept(before.value, after.value, outcome.applied)
    if _loads(text) is not ValueError:
        assert _loads(outcome.text) is not ValueError
    assert _errors(outcome.text) <= _errors(text)
    assert outcome.converged
    again = fix_text(outcome.text, _lint, unsafe)
    assert again.text == outcome.text and again.applied == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_emd_texts(), st.booleans())
def test_fix_of_damaged_emd_parses_keeps_values_lints_no_worse_and_settles(
    text: str, unsafe: bool
) -> None:
    _check_fix(text, unsafe)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]",:\\/ \n\tabe0123.-+truefalsn#*\ufeff', max_size=80), st.booleans())
def test_fix_of_json_like_text_never_makes_it_worse(text: str, unsafe: bool) -> None:
    _check_fix(text, unsafe)


def _scalars(value: Any, found: Counter[tuple[str, str]] | None = None) -> Counter[tuple[str, str]]:
    """Scalar values with their types; strings as normalize writes a path (idempotently)."""
    found = Counter() if found is None else found
    if isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            _scalars(item, found)
    elif isinstance(value, str):
        found[("str", to_relative_posix(value))] += 1
    else:
        found[(type(value).__name__, repr(value))] += 1
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_emd_texts())
def test_normalize_refuses_or_keeps_every_value_and_is_idempotent(text: str) -> None:
    parsed = parse_json_text(text)
    try:
        canonical = normalize_text(text)
    except PackageError as exc:
        assert "cannot normalize" in str(exc) and "\n" not in str(exc)
        if parsed.ok and isinstance(parsed.value, dict):
            duplicated = any(i.kind == "duplicate_key" for i in parsed.issues)
            assert duplicated or "would both become" in str(exc)
        return
    assert parsed.ok and isinstance(parsed.value, dict)
    value = json.loads(canonical)
    assert len(flatten(value)) == len(flatten(parsed.value))  # no key merged, nothing dropped
    assert _scalars(value) == _scalars(parsed.value)
    assert normalize_text(canonical) == canonical
