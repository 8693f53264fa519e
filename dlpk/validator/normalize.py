"""The canonical form of an .emd: canonical key names and order, forward-slash relative paths,
4-space indentation as arcgis.learn writes it; the same values, Classes never reordered."""

from __future__ import annotations

import json
from typing import Any

from dlpk.errors import PackageError
from dlpk.spec.emd_schema import canonical_key_order, class_key_order
from dlpk.spec.vocab import CLASS_KEY_MISSPELLINGS
from dlpk.validator.files import ARCGIS_FUNCTIONS_PREFIX, is_absolute_path, to_relative_posix
from dlpk.validator.jsonparser import parse_json_text
from dlpk.validator.jsontext import ParsedJson
from dlpk.validator.suggest import closest

_PATH_KEYS = ("ModelFile", "InferenceFunction", "ModelConfigurationFile")


def _canonical_key(key: str, candidates: tuple[str, ...]) -> str:
    suggestion = closest(key, candidates, cutoff=1.0)
    return suggestion.value if suggestion is not None and suggestion.safe else key


def _rename_keys(obj: dict[str, Any], candidates: tuple[str, ...]) -> dict[str, Any]:
    """Case-only misspellings become canonical unless that would collide with an existing key."""
    renamed: dict[str, Any] = {}
    for key, value in obj.items():
        target = _canonical_key(key, candidates)
        renamed[target if target not in obj or target == key else key] = value
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


def _class_entry(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    renamed = {}
    for key, value in entry.items():
        target = CLASS_KEY_MISSPELLINGS.get(key) or _canonical_key(key, class_key_order())
        renamed[target if target not in entry or target == key else key] = value
    return _ordered(renamed, class_key_order())


def normalize_document(doc: dict[str, Any]) -> dict[str, Any]:
    out = _ordered(_rename_keys(doc, canonical_key_order()), canonical_key_order())
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
        out["Classes"] = [_class_entry(entry) for entry in out["Classes"]]
    return out


def dumps_canonical(doc: Any) -> str:
    return json.dumps(doc, indent=4, ensure_ascii=False) + "\n"


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
    return dumps_canonical(normalize_document(parsed.value))
