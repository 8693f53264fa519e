"""`dlpk inspect`: what a package holds, in a form people (and scripts, as JSON) can read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlpk.errors import PackageError
from dlpk.packaging.pack import folder_emd, package_members
from dlpk.packaging.reader import read_package_emd
from dlpk.validator.diagnostics import Diagnostic, Severity
from dlpk.validator.jsonparser import parse_json_bytes
from dlpk.validator.lint import LintOptions, lint_target


def _load(path: Path) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """The .emd document and the (name, size) of every file in the package or folder."""
    if path.is_dir():
        emd = folder_emd(path)
        files = [(name, p.stat().st_size) for name, p in package_members(path)]
        data = emd.read_bytes()
    elif path.suffix.lower() == ".emd":
        data = path.read_bytes()
        files = [(path.name, len(data))]
    else:
        package = read_package_emd(path)
        data = package.data
        files = [(i.name, i.size) for i in package.infos if not i.is_dir]
    parsed = parse_json_bytes(data)
    if not parsed.ok or not isinstance(parsed.value, dict):
        raise PackageError(f"{path}: the .emd is not a JSON object", "run `dlpk lint` on it")
    return parsed.value, files


def _default_padding(doc: dict[str, Any]) -> tuple[int | None, str]:
    if isinstance(doc.get("ModelPadding"), int):
        return doc["ModelPadding"], "ModelPadding"
    height = doc.get("ImageHeight")
    if isinstance(height, int) and not isinstance(height, bool):
        return height // 4, "default ImageHeight // 4"
    return None, "unknown"


def describe(path: Path) -> dict[str, Any]:
    doc, files = _load(path)
    diagnostics: list[Diagnostic] = lint_target(path, LintOptions()) if not path.is_dir() else []
    config = doc.get("ModelConfiguration")
    padding, padding_source = _default_padding(doc)
    classes = [
        {"value": c.get("Value"), "name": c.get("Name"), "color": c.get("Color")}
        for c in doc.get("Classes") or []
        if isinstance(c, dict)
    ]
    return {
        "path": str(path),
        "model_name": doc.get("ModelName"),
        "model_type": doc.get("ModelType"),
        "framework": doc.get("Framework"),
        "configuration": config.get("Name") if isinstance(config, dict) else config,
        "model_file": doc.get("ModelFile"),
        "inference_function": doc.get("InferenceFunction"),
        "tile": {"height": doc.get("ImageHeight"), "width": doc.get("ImageWidth")},
        "extract_bands": doc.get("ExtractBands"),
        "padding": {"pixels": padding, "source": padding_source},
        "classes": classes,
        "files": [{"name": n, "size": s} for n, s in sorted(files)],
        "total_size": sum(s for _, s in files),
        "lint": {
            "errors": sum(d.severity is Severity.ERROR for d in diagnostics),
            "warnings": sum(d.severity is Severity.WARNING for d in diagnostics),
        },
    }


def _swatch(color: Any, colour: bool) -> str:
    valid = isinstance(color, list) and len(color) == 3 and all(isinstance(c, int) for c in color)
    if not valid or color == [-1, -1, -1]:
        return "(no colour)"
    r, g, b = color
    swatch = f"\x1b[48;2;{r};{g};{b}m  \x1b[0m " if colour else ""
    return f"{swatch}#{r:02x}{g:02x}{b:02x}"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def render_text(info: dict[str, Any], colour: bool) -> str:
    tile = info["tile"]
    lines = [
        f"{info['path']}",
        f"  model        {info['model_name'] or '-'}",
        f"  type         {info['model_type'] or '-'}",
        f"  framework    {info['framework'] or '-'} / {info['configuration'] or '-'}",
        f"  model file   {info['model_file'] or '-'}",
    ]
    if info["inference_function"]:
        lines.append(f"  function     {info['inference_function']}")
    lines += [
        f"  tile         {tile['height']} x {tile['width']} px",
        f"  bands        {json.dumps(info['extract_bands'])}",
        f"  padding      {info['padding']['pixels']} px ({info['padding']['source']})",
        f"  classes      {len(info['classes'])}",
    ]
    for c in info["classes"]:
        lines.append(f"    {c['value']!s:>5}  {c['name']!s:<24} {_swatch(c['color'], colour)}")
    lines.append(f"  files        {len(info['files'])} ({_size(info['total_size'])})")
    for f in info["files"]:
        lines.append(f"    {_size(f['size']):>10}  {f['name']}")
    lint = info["lint"]
    lines.append(f"  lint         {lint['errors']} error(s), {lint['warnings']} warning(s)")
    return "\n".join(lines) + "\n"
