"""The canonical form of an .emd: canonical key names and order, forward-slash relative paths,
4-space indentation as arcgis.learn writes it; the same values, Classes never reordered."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from dlpk.errors import PackageError
from dlpk.spec.emd_schema import canonical_key_order, class_key_order
from dlpk.spec.vocab import CLASS_KEY_MISSPELLINGS
from dlpk.validator.files import ARCGIS_FUNCTIONS_PREFIX, is_absolute_path, to_relative_posix
from dlpk.validator.jsonparser import parse_json_text
from dlpk.validator.jsontext import ParsedJson, unescape_pointer_token
from dlpk.validator.suggest import closest

_PATH_KEYS = ("ModelFile", "InferenceFunction", "ModelConfigurationFile")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _canonical_key(key: str, candidates: tuple[str, ...]) -> str:
    suggestion = closest(key, candidates, cutoff=1.0)
    return suggestion.value if suggestion is not None and suggestion.safe else key


def _rename_keys(
    obj: dict[str, Any], target_of: Callable[[str], str], where: str
) -> dict[str, Any]:
    """Misspelt keys become canonical, unless the canonical key is already there (both are
    kept). Two keys that would become one are refused: merging them would drop a value."""
    renamed: dict[str, Any] = {}
    source: dict[str, str] = {}
    for key, value in obj.items():
        target = target_of(key)
        if target != key and target in obj:
            target = key
        if target in source:
            raise PackageError(
                f"cannot normalize: keys {source[target]!r} and {key!r} {where} would both "
                f"become {target!r}",
                "delete or rename one of them, then normalize",
            )
        source[target] = key
        renamed[target] = value
    return renamed


def _ordered(obj: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    head = {k: obj[k] for k in order if k in obj}
    return head | {k: v for k, v in obj.items() if k not in head}


def _path(value: Any) -> Any:
    if not isinstance(value, str) or value.startswith(ARCGIS_FUNCTIONS_PREFIX):
        return value
    if is_absolute_path(value) or value in (".", ""):
        return value
    return to_relative_posix(value)


def _class_key(key: str) -> str:
    return CLASS_KEY_MISSPELLINGS.get(key) or _canonical_key(key, class_key_order())


def _class_entry(entry: Any, index: int) -> Any:
    if not isinstance(entry, dict):
        return entry
    renamed = _rename_keys(entry, _class_key, f"in Classes[{index}]")
    return _ordered(renamed, class_key_order())


def _top_key(key: str) -> str:
    return _canonical_key(key, canonical_key_order())


def normalize_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The canonical document; PackageError when two keys would merge into one."""
    out = _ordered(_rename_keys(doc, _top_key, "at the top level"), canonical_key_order())
    for key in _PATH_KEYS:
        if key in out:
            out[key] = _path(out[key])
    if isinstance(out.get("ModelFiles"), list):
        out["ModelFiles"] = [_path(v) for v in out["ModelFiles"]]
    config = out.get("ModelConfiguration")
    if isinstance(config, dict):
        config = _ordered(config, ("Name",))
        for key in ("Architecture", "Config"):
            if key in config:
                config[key] = _path(config[key])
        out["ModelConfiguration"] = config
    if isinstance(out.get("Classes"), list):
        out["Classes"] = [_class_entry(entry, i) for i, entry in enumerate(out["Classes"])]
    return out


def dumps_canonical(doc: Any) -> str:
    text = json.dumps(doc, indent=4, ensure_ascii=False) + "\n"
    # a lone surrogate (from a "\\ud800" escape) cannot be written as UTF-8: keep it escaped
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def normalize_text(text: str) -> str:
    """Canonical text of an .emd; refuses a file that is not readable JSON."""
    parsed: ParsedJson = parse_json_text(text)
    if not parsed.ok:
        issue = parsed.issues[-1]
        line, column = parsed.line_col(issue.offset)
        raise PackageError(
            f"cannot normalize: {issue.message} at line {line}, column {column}",
            "run `dlpk lint` to see the problem",
        )
    if not isinstance(parsed.value, dict):
        raise PackageError("cannot normalize: the top level is not a JSON object")
    _refuse_duplicates(parsed)
    return dumps_canonical(normalize_document(parsed.value))


def _refuse_duplicates(parsed: ParsedJson) -> None:
    """A key written twice holds two values and a reader keeps one: normalizing would drop
    the other silently, so say which (`dlpk fix` removes the earlier one, as readers do)."""
    for issue in parsed.issues:
        if issue.kind != "duplicate_key" or issue.pointer is None:
            continue
        parent, _, token = issue.pointer.rpartition("/")
        key = unescape_pointer_token(token)
        first, _ = parsed.line_col(issue.offset)
        later = parsed.key_span(issue.pointer)
        second = parsed.line_col(later.start)[0] if later is not None else first
        raise PackageError(
            f"cannot normalize: key {key!r} appears twice in {parent or 'the top level'} "
            f"(lines {first} and {second}); only one value can be kept",
            "delete one; `dlpk fix` keeps the last, as ArcGIS does",
        )
