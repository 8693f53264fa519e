"""Lint benchmarks: .emd throughput, and lint time against the size of a package's model file.

    .venv/bin/python benchmarks/bench_lint.py [--files 2000] [--max-gb 2] [--repeat 5]

(a) Generates --files small, varied .emd files (valid ones and ones with the typical errors) in a
    temporary folder, times `lint_paths` over the folder, and, as a baseline in the same run,
    reading + `json.loads` of the same files.
(b) Builds .dlpk packages whose model member is 20 MiB, 200 MiB and 2 GiB (stored, written in
    streamed chunks so memory stays flat; one package on disk at a time), and times
    `lint_package` on each (median of --repeat). Lint reads only the central directory and the
    .emd, so its time should not grow with the model.
Prints markdown tables and writes them, with the command and date, into the "## Lint" section of
benchmarks/RESULTS.md (replacing an older "## Lint" section).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import RESULTS, best_of, run_line, write_section  # noqa: E402
from dlpk.validator.lint import LintOptions, lint_package, lint_paths  # noqa: E402

SECTION = "## Lint"
HEADER = """# Benchmarks

Reproducible benchmark scripts live beside this file; each script rewrites its own section here.
Figures depend on the machine and on what else runs on it: compare figures from one run only.

- **Lint** (`benchmarks/bench_lint.py`): (a) throughput of `lint_paths` over ~2000 small, varied
  .emd files (valid ones and ones with typical errors), all in one folder and one folder per
  model, against reading + `json.loads` of the same files in the same run; (b) `lint_package`
  time on .dlpk packages whose model member is 20 MiB, 200 MiB and 2 GiB (median of 5): lint
  reads only the zip central directory and the .emd, so the time should stay flat as the model
  grows.
"""
MIB = 1024**2
CHUNK = 4 * MIB


# -- (a) .emd throughput -------------------------------------------------------------------------


def _classes(rng: random.Random, count: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"Value": start + i, "Name": f"class_{i}", "Color": [rng.randrange(256) for _ in range(3)]}
        for i in range(count)
    ]


def _valid(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choice(["pixel", "detector", "arcgis", "classifier"])
    size = rng.choice([128, 256, 512])
    base: dict[str, Any] = {"ImageHeight": size, "ImageWidth": size, "ExtractBands": [0, 1, 2]}
    if kind == "pixel":
        base |= {
            "Framework": "ONNX",
            "ModelConfiguration": "PixelClassifier",
            "ModelType": "ImageClassification",
            "ModelFile": f"model_{index}.onnx",
            "Classes": _classes(rng, rng.randint(2, 12), 0),
        }
    elif kind == "detector":
        base |= {
            "Framework": "TensorFlow",
            "ModelConfiguration": "ObjectDetectionAPI",
            "ModelType": "ObjectDetection",
            "ModelFile": f"frozen_{index}.pb",
            "Classes": _classes(rng, rng.randint(1, 5)),
        }
    elif kind == "arcgis":
        base |= {
            "Framework": "arcgis.learn.models._inferencing",
            "ModelConfiguration": "_unet",
            "ModelType": "ImageClassification",
            "InferenceFunction": "ArcGISImageClassifier.py",
            "ModelFile": f"unet_{index}.pth",
            "ImageSpaceUsed": "MAP_SPACE",
            "IsMultispectral": False,
            "Classes": _classes(rng, rng.randint(2, 8), 0),
        }
    else:
        base |= {
            "Framework": "PyTorch",
            "ModelConfiguration": "FeatureClassifier",
            "ModelType": "ObjectClassification",
            "ModelFile": f"classifier_{index}.pth",
            "Classes": _classes(rng, rng.randint(2, 6), 0),
        }
    return base


def _broken(rng: random.Random, index: int) -> str:
    """Typical mistakes: each returns the file text."""
    doc = _valid(rng, index)
    text = json.dumps(doc, indent=2)
    mistake = rng.choice(
        [
            "trailing-comma",
            "comment",
            "misspelt-key",
            "wrong-type",
            "backslash-path",
            "absolute-path",
            "duplicate-class",
            "missing-classes",
            "unknown-model-type",
            "truncated",
            "bom",
            "padding",
        ]
    )
    if mistake == "trailing-comma":
        return text[:-2] + ",\n}"
    if mistake == "comment":
        return text.replace("{", "{\n  // exported from ArcGIS Pro", 1)
    if mistake == "misspelt-key":
        return text.replace('"ModelType"', '"Modeltype"')
    if mistake == "wrong-type":
        doc["ImageHeight"] = str(doc["ImageHeight"])
    elif mistake == "backslash-path":
        doc["ModelFile"] = ".\\models\\" + doc["ModelFile"]
    elif mistake == "absolute-path":
        doc["ModelFile"] = "C:\\Users\\gis\\models\\" + doc["ModelFile"]
    elif mistake == "duplicate-class" and doc["Classes"]:
        doc["Classes"].append(dict(doc["Classes"][0]))
    elif mistake == "missing-classes":
        del doc["Classes"]
    elif mistake == "unknown-model-type":
        doc["ModelType"] = "ImageClassifier"
    elif mistake == "truncated":
        return text[: len(text) // 2]
    elif mistake == "bom":
        return "\ufeff" + text
    elif mistake == "padding":
        doc["ModelPadding"] = doc["ImageHeight"]
    return json.dumps(doc, indent=2)


def make_emd_corpus(root: Path, count: int, nested: bool = False, seed: int = 7) -> list[Path]:
    """`count` .emd files: about 60 % valid, 40 % with one typical mistake. Most valid ones have
    their model file beside them; the rest report it missing. All in `root` (flat), or one
    folder per model (nested), as model folders usually are; the same files either way."""
    rng = random.Random(seed)
    paths = []
    for index in range(count):
        folder = root / f"m{index:05d}" if nested else root
        folder.mkdir(exist_ok=True)
        if nested or index == 0:
            (folder / "ArcGISImageClassifier.py").write_text("class ChildImageClassifier: ...\n")
        if rng.random() < 0.6:
            document = _valid(rng, index)
            text = json.dumps(document, indent=2)
            if rng.random() < 0.8:
                (folder / document["ModelFile"]).write_bytes(b"\0")
        else:
            text = _broken(rng, index)
        path = folder / f"model_{index:05d}.emd"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _json_baseline(paths: list[Path]) -> int:
    ok = 0
    for path in paths:
        try:
            json.loads(path.read_bytes())
            ok += 1
        except ValueError:
            pass
    return ok


def _time_layout(count: int, repeat: int, nested: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dlpk-bench-emd-") as tmp:
        folder = Path(tmp)
        paths = make_emd_corpus(folder, count, nested)
        options = LintOptions()
        files, diagnostics = lint_paths([folder], options)  # warm-up, and the counts
        return {
            "files": len(files),
            "lint_s": best_of(repeat, lambda: lint_paths([folder], options)),
            "json_s": best_of(repeat, lambda: _json_baseline(paths)),
            "parsed": _json_baseline(paths),
            "clean": len(files) - len({d.file for d in diagnostics}),
            "diagnostics": len(diagnostics),
        }


def bench_throughput(count: int, repeat: int) -> tuple[list[str], dict[str, Any]]:
    flat = _time_layout(count, repeat, nested=False)
    nested = _time_layout(count, repeat, nested=True)
    n = flat["files"]
    rows = [
        "| layout | what | files | time (s) | files/s | ms/file |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, figures in (("one folder", flat), ("folder per model", nested)):
        for what, key in (
            ("`lint_paths` (all rules)", "lint_s"),
            ("read + `json.loads`", "json_s"),
        ):
            seconds = figures[key]
            rows.append(
                f"| {name} | {what} | {n} | {seconds:.3f} | {n / seconds:,.0f} "
                f"| {seconds / n * 1e3:.3f} |"
            )
    ratio_flat = flat["lint_s"] / flat["json_s"]
    ratio_nested = nested["lint_s"] / nested["json_s"]
    rows += [
        "",
        f"Lint costs **{ratio_flat:.0f}x** plain `json.loads` with all files in one folder and "
        f"**{ratio_nested:.0f}x** with a folder per model (one folder is "
        f"{flat['lint_s'] / nested['lint_s']:.1f}x slower in all). Corpus: {n} files, "
        f"{flat['parsed']} parse as strict JSON, {flat['clean']} lint clean, "
        f"{flat['diagnostics']} diagnostics in all. Best of {repeat} runs each.",
    ]
    return rows, {"flat": flat, "nested": nested}


# -- (b) package size ----------------------------------------------------------------------------


def write_package(path: Path, model_bytes: int, seed: int = 11) -> None:
    """A .dlpk with a stored (uncompressed) model member written in 4 MiB chunks."""
    rng = random.Random(seed)
    block = rng.randbytes(CHUNK)
    document = {
        "Framework": "ONNX",
        "ModelConfiguration": "PixelClassifier",
        "ModelType": "ImageClassification",
        "ModelFile": "model.onnx",
        "ImageHeight": 256,
        "ImageWidth": 256,
        "ExtractBands": [0, 1, 2],
        "Classes": [{"Value": 1, "Name": "building", "Color": [255, 0, 0]}],
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("model.emd", json.dumps(document, indent=2))
        info = zipfile.ZipInfo("model.onnx", date_time=(2024, 1, 1, 0, 0, 0))
        with archive.open(info, "w", force_zip64=True) as sink:
            left = model_bytes
            while left > 0:
                step = min(CHUNK, left)
                # vary each chunk a little so the content is not one repeated block
                sink.write(block[:step] if left % 3 else rng.randbytes(step))
                left -= step


def _size_label(size: int) -> str:
    return f"{size / 1024**3:g} GiB" if size >= 1024**3 else f"{size / MIB:g} MiB"


def bench_package_sizes(max_gb: float, repeat: int) -> tuple[list[str], dict[str, Any]]:
    sizes = [s for s in (20 * MIB, 200 * MIB, 2 * 1024**3) if s <= max_gb * 1024**3]
    rows = [
        "| model member | package on disk | write (s) | `lint_package` median (ms) | min (ms) |",
        "|---:|---:|---:|---:|---:|",
    ]
    medians: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="dlpk-bench-pkg-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"model_{size}.dlpk"
            free = shutil.disk_usage(tmp).free
            if free < size + 512 * MIB:
                rows.append(f"| {_size_label(size)} | skipped: {free / MIB:.0f} MiB free | | | |")
                continue
            start = time.perf_counter()
            write_package(path, size)
            write_s = time.perf_counter() - start
            lint_package(path, LintOptions())  # warm-up (imports, first open)
            times = []
            for _ in range(repeat):
                begin = time.perf_counter()
                found = lint_package(path, LintOptions())
                times.append(time.perf_counter() - begin)
            assert not [d for d in found if d.severity == "error"], found
            medians[size] = statistics.median(times)
            rows.append(
                f"| {_size_label(size)} | {path.stat().st_size / MIB:,.0f} MiB | {write_s:.1f} "
                f"| {medians[size] * 1e3:.2f} | {min(times) * 1e3:.2f} |"
            )
            path.unlink()
    if len(medians) >= 2:
        small, large = min(medians), max(medians)
        ratio = medians[large] / medians[small]
        rows += [
            "",
            f"Lint time, largest / smallest model: **{ratio:.2f}x** for a "
            f"{large / small:.0f}x larger model member (median of {repeat} runs each).",
        ]
    return rows, {"medians_s": {str(k): v for k, v in medians.items()}}


# -- report --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=2000, help=".emd files to generate")
    parser.add_argument("--max-gb", type=float, default=2, help="largest model member, GiB")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--results", type=Path, default=RESULTS, help="markdown file to update")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    print(f"(a) linting {args.files} .emd files ...", flush=True)
    throughput, _ = bench_throughput(args.files, args.repeat)
    print("\n".join(throughput), flush=True)
    print(f"\n(b) packages up to {args.max_gb:g} GiB ...", flush=True)
    sizes, _ = bench_package_sizes(args.max_gb, args.repeat)
    print("\n".join(sizes), flush=True)

    body = [
        run_line(),
        "",
        "### .emd throughput",
        "",
        *throughput,
        "",
        "### Package size",
        "",
        *sizes,
    ]
    if not args.no_write:
        write_section(SECTION, body, HEADER, args.results)
        print(f"\nwrote the {SECTION!r} section of {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
