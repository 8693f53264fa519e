"""`dlpk inspect`: what a package holds, in a form people (and scripts, as JSON) can read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlpk.errors import PackageError
from dlpk.packaging.pack import folder_emd, package_members
from dlpk.packaging.reader import read_package_emd
from dlpk.validator.diagnostics import Diagnostic, Severity
from dlpk.validator.files import DirectoryIndex
from dlpk.validator.jsonparser import parse_json_bytes
from dlpk.validator.lint import (
    LintOptions,
    lint_emd_bytes,
    lint_target,
    read_emd_file,
    regular_file_size,
)
from dlpk.validator.reporters.safe_text import terminal_safe


def _load(path: Path) -> tuple[dict[str, Any], list[tuple[str, int]], list[Diagnostic] | None]:
    """The .emd document, the (name, size) of every file in the package or folder, and the
    lint diagnostics of a loose .emd (linted from the same bytes, parsed once); None for the
    others.

    A special file (FIFO, socket, device) is refused unopened, and a loose .emd larger than a
    package's .emd may be (MAX_EMD_BYTES) unread, as a package's is.
    """
    diagnostics: list[Diagnostic] | None = None
    if path.is_dir():
        emd = folder_emd(path)
        files = [(name, p.stat().st_size) for name, p in package_members(path)]
        parsed = parse_json_bytes(read_emd_file(emd))
        document = parsed.value if parsed.ok else None
    elif path.suffix.lower() == ".emd":
        data = read_emd_file(path)
        files = [(path.name, len(data))]
        result = lint_emd_bytes(data, str(path), index=DirectoryIndex(path.parent))
        document, diagnostics = result.document, result.diagnostics
    else:
        regular_file_size(path)  # a FIFO named .dlpk would block the zip reader
        package = read_package_emd(path)
        parsed = parse_json_bytes(package.data)
        document = parsed.value if parsed.ok else None
        files = [(i.name, i.size) for i in package.infos if not i.is_dir]
    if not isinstance(document, dict):
        raise PackageError(f"{path}: the .emd is not a JSON object", "run `dlpk lint` on it")
    return document, files, diagnostics


def _default_padding(doc: dict[str, Any]) -> tuple[int | None, str]:
    if isinstance(doc.get("ModelPadding"), int):
        return doc["ModelPadding"], "ModelPadding"
    height = doc.get("ImageHeight")
    if isinstance(height, int) and not isinstance(height, bool):
        return height // 4, "default ImageHeight // 4"
    return None, "unknown"


#: arcgis.learn InferenceFunctions that cut each block into a square of batch_size sub-tiles of
#: ImageHeight px (padding ImageHeight // 4 each), and their default batch_size
#: (getParameterInfo in arcgis.learn's models/_inferencing/).
SUB_TILED = {"_unet": 4, "_DynamicSSD": 64, "_maskrcnn_inferencing": 4, "_deeplab_infrencing": 4,
             "_psp": 4}  # fmt: skip
#: arcgis.learn InferenceFunctions that classify one chip per feature, without padding.
UNPADDED = ("_FeatureClassifier",)


def function_blocks(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The blocks an arcgis.learn InferenceFunction asks for by default, worked out as its
    getConfiguration does (the function is not run: it is the package's code)."""
    config = doc.get("ModelConfiguration")
    name = config.get("Name") if isinstance(config, dict) else config
    height = doc.get("ImageHeight")
    if not doc.get("InferenceFunction") or not isinstance(height, int) or isinstance(height, bool):
        return None
    if name in UNPADDED:
        return {"block": height, "padding": 0, "source": f"{name}: one chip a feature"}
    if name not in SUB_TILED:
        return None
    side, padding = int(SUB_TILED[name] ** 0.5), height // 4
    block = side * (height - 2 * padding) + 2 * padding
    source = f"{name}: {side} x {side} sub-tiles of {height} px, batch_size {side * side}"
    return {"block": block, "padding": padding, "source": source}


def describe(path: Path) -> dict[str, Any]:
    doc, files, linted = _load(path)
    if linted is not None:
        diagnostics = linted
    else:
        diagnostics = lint_target(path, LintOptions()) if not path.is_dir() else []
    config = doc.get("ModelConfiguration")
    padding, padding_source = _default_padding(doc)
    blocks = function_blocks(doc)
    if blocks is not None:
        padding, padding_source = blocks["padding"], f"the function's default; {blocks['source']}"
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
        "function_block": None if blocks is None else blocks["block"],
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
    """The summary for a terminal: every value from the package through `terminal_safe`."""
    t = terminal_safe
    tile = info["tile"]
    lines = [
        t(info["path"]),
        f"  model        {t(info['model_name'] or '-')}",
        f"  type         {t(info['model_type'] or '-')}",
        f"  framework    {t(info['framework'] or '-')} / {t(info['configuration'] or '-')}",
        f"  model file   {t(info['model_file'] or '-')}",
    ]
    if info["inference_function"]:
        lines.append(f"  function     {t(info['inference_function'])}")
    lines += [
        f"  tile         {t(tile['height'])} x {t(tile['width'])} px",
        f"  bands        {json.dumps(info['extract_bands'])}",  # ASCII: json.dumps escapes
        f"  padding      {t(info['padding']['pixels'])} px ({info['padding']['source']})",
        *(
            [f"  blocks       {info['function_block']} px a side, padding included"]
            if info.get("function_block")
            else []
        ),
        f"  classes      {len(info['classes'])}",
    ]
    for c in info["classes"]:
        lines.append(f"    {t(c['value']):>5}  {t(c['name']):<24} {_swatch(c['color'], colour)}")
    lines.append(f"  files        {len(info['files'])} ({_size(info['total_size'])})")
    for f in info["files"]:
        lines.append(f"    {_size(f['size']):>10}  {t(f['name'])}")
    lint = info["lint"]
    lines.append(f"  lint         {lint['errors']} error(s), {lint['warnings']} warning(s)")
    return "\n".join(lines) + "\n"
