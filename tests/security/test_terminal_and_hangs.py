"""Hostile input that attacks the terminal or the clock.

Terminal: names and messages from a package (ModelName, class names, member and file names,
the offending source line) holding OSC 52 (clipboard), CSI 2J (clear screen), BEL, a one-byte
C1 CSI (U+009B) or a bidi override reach a terminal only as visible escapes (`\\x1b`,
`\\u202e`); the JSON formats stay valid, ASCII-only JSON.

Hangs: a FIFO (or socket, device) is never opened, so nothing waits for a writer; a loose .emd
larger than a package's .emd may be is refused unread; a rotation angle that would multiply an
export without bound is refused up front. Every command that used to hang runs in a subprocess
with a timeout, so a regression fails instead of stopping the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dlpk.cli import main
from dlpk.cli.options import echo, print_done
from dlpk.packaging.inspect import describe
from dlpk.packaging.inspect import render_text as render_inspect
from dlpk.spec.job import ExportChipsParameters, Result
from dlpk.validator import lint as lint_module
from dlpk.validator.diagnostics import Diagnostic, Severity
from dlpk.validator.reporters.safe_text import terminal_safe
from dlpk.validator.reporters.text import render_text
from dlpk.validator.safezip import MAX_EMD_BYTES
from tests.conftest import GOOD_EMD, REPO

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # write "rm -rf ~" to the clipboard
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"
BIDI = "\u202e"
EVIL = f"Water{OSC52}{CLEAR}\x07{C1_CSI}{BIDI}gpj.exe"
# what may never reach a terminal raw (the reporters' own newlines aside)
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SGR = re.compile("\x1b\\[[0-9;]*m")  # a reporter's own colour codes
TIMEOUT = 30


def assert_terminal_safe(text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in RAW.findall(text)})
    assert not found, f"raw terminal controls in the output: {found}"


def hostile_emd(folder: Path, name: str = "water.emd") -> Path:
    """A valid .emd whose names hold escape sequences (JSON-escaped C0, raw C1 and bidi)."""
    document = GOOD_EMD | {
        "ModelName": EVIL,
        "ModelFile": f"{EVIL}.onnx",  # a missing file: the message quotes the name
        "Classes": [
            {"Value": 1, "Name": EVIL, "Color": [0, 0, 255]},
            {"Value": 2, "Name": EVIL, "Color": [0, 128, 0]},  # a duplicated name: DL303
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(document, indent=4, ensure_ascii=False), encoding="utf-8")
    return path


def raw_control_emd(folder: Path) -> Path:
    """Not JSON: raw ESC and BEL inside a string, so the report shows the offending line."""
    text = json.dumps(GOOD_EMD).replace('"Water"', f'"Wa{CLEAR}\x07ter{BIDI}"', 1)
    assert CLEAR in text
    path = folder / f"raw{CLEAR}\x07.emd"  # a hostile file name as well
    path.write_text(text, encoding="utf-8")
    return path


def hostile_package(folder: Path) -> Path:
    path = folder / "evil.dlpk"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("water.emd", hostile_emd(folder / "src").read_text(encoding="utf-8"))
        archive.writestr(f"notes{OSC52}{C1_CSI}.txt", "unreferenced: DL710 names it")
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_dlpk(*argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, stopped (and the test failed) if it hangs."""
    return subprocess.run(
        [sys.executable, "-m", "dlpk", *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=REPO,
        check=False,
    )


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# -- the one escaping function -------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b", "\\x1b"),
        ("\x07", "\\x07"),
        ("\x00", "\\x00"),
        ("\x7f", "\\x7f"),
        ("\x9b", "\\x9b"),
        ("\x85", "\\x85"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\u202a", "\\u202a"),
        ("\u202e", "\\u202e"),
        ("\u2066", "\\u2066"),
        ("\u2069", "\\u2069"),
        ("\u200f", "\\u200f"),
        ("\u2028", "\\u2028"),
        ("\ud800", "\\ud800"),  # a lone surrogate (JSON allows it) cannot even be encoded
    ],
)
def test_terminal_safe_shows_each_dangerous_code_point(raw: str, shown: str) -> None:
    assert terminal_safe(f"a{raw}b") == f"a{shown}b"


def test_terminal_safe_keeps_text_and_optionally_lines() -> None:
    plain = "Wasser, eau, 水, vatn: ça va? C:\\models\\water.emd 100%"
    assert terminal_safe(plain) == plain
    assert terminal_safe("a\nb\tc\x1b", multiline=True) == "a\nb\tc\\x1b"
    assert terminal_safe(None) == "None" and terminal_safe(12) == "12"


# -- lint reports ----------------------------------------------------------------------------
@pytest.mark.parametrize("report", ["text", "github"])
def test_lint_reports_show_escapes_never_the_controls(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, report: str
) -> None:
    paths = [hostile_emd(tmp_path / "m"), raw_control_emd(tmp_path), hostile_package(tmp_path)]
    status, out, err = cli(capsys, "lint", "--format", report, *map(str, paths))
    assert status == 1 and not err
    assert_terminal_safe(out)
    assert "\\x1b]52;c;" in out and "\\u202e" in out and "\\x9b31m" in out
    assert "DL303" in out and "DL108" in out and "DL710" in out
    if report == "github":  # one workflow command per diagnostic, whatever the data held
        assert all(line.startswith("::") for line in out.splitlines())


@pytest.mark.parametrize("report", ["json", "sarif"])
def test_machine_reports_stay_valid_ascii_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, report: str
) -> None:
    paths = [hostile_emd(tmp_path / "m"), raw_control_emd(tmp_path), hostile_package(tmp_path)]
    status, out, _ = cli(capsys, "lint", "--format", report, *map(str, paths))
    assert status == 1
    assert out.isascii()  # C0, C1 and bidi characters as \u escapes
    strings = "\n".join(_strings(json.loads(out)))
    # the data itself is kept, exactly: a hostile member name, a hostile file name
    assert f"notes{OSC52}{C1_CSI}.txt" in strings and paths[1].name in strings


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in _strings(v)] if isinstance(value, list) else []


def test_coloured_text_report_holds_only_its_own_colour_codes(tmp_path: Path) -> None:
    from dlpk.api import lint

    report = lint([hostile_emd(tmp_path / "m"), raw_control_emd(tmp_path)])
    coloured = report.render("text", colour=True)
    assert SGR.search(coloured)
    assert_terminal_safe(SGR.sub("", coloured))


def test_caret_stays_under_the_column_after_escapes() -> None:
    excerpt = f'"Name": "a{CLEAR}\x07b{BIDI}X"'
    column = excerpt.index("X") + 1
    d = Diagnostic("DL108", Severity.ERROR, "m", "f.emd", line=1, column=column, excerpt=excerpt)
    shown, caret = render_text(["f.emd"], [d], False).splitlines()[2:4]
    assert shown.index("X") == caret.index("^")
    assert_terminal_safe(shown)


def test_a_long_line_is_cut_before_it_is_escaped() -> None:
    excerpt = "\x1b" * 100_000 + "X" + "\x1b" * 100_000
    d = Diagnostic("DL108", Severity.ERROR, "m", "f.emd", line=1, column=100_001, excerpt=excerpt)
    shown, caret = render_text(["f.emd"], [d], False).splitlines()[2:4]
    assert len(shown) < 1000 and shown.index("X") == caret.index("^")


# -- inspect ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["emd", "folder", "package"])
def test_inspect_shows_escapes_never_the_controls(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    emd = hostile_emd(tmp_path / "m")
    target = {"emd": emd, "folder": emd.parent, "package": hostile_package(tmp_path)}[kind]
    status, out, err = cli(capsys, "inspect", str(target))
    assert status == 0 and not err
    assert_terminal_safe(out)
    assert "\\x1b]52;c;" in out and "\\u202e" in out
    status, out, _ = cli(capsys, "inspect", "--format", "json", str(target))
    assert status == 0 and out.isascii()
    assert json.loads(out)["model_name"] == EVIL


def test_coloured_inspect_holds_only_its_own_colour_codes(tmp_path: Path) -> None:
    coloured = render_inspect(describe(hostile_package(tmp_path)), colour=True)
    assert SGR.search(coloured)  # the class colour swatches
    assert_terminal_safe(SGR.sub("", coloured))


# -- the CLI's own lines ---------------------------------------------------------------------
def test_error_lines_show_escapes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / f"gone{OSC52}{BIDI}.emd"
    status, out, err = cli(capsys, "lint", str(missing))
    assert status == 2 and not out
    line = one_line(err)
    assert line.startswith("dlpk: error:") and "no such file" in line
    assert_terminal_safe(line)


def test_warnings_and_done_lines_show_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    result = Result(
        task="export_chips",
        status="done",
        exit_code=0,
        counts={f"chips{CLEAR}": 3},
        warnings=[f"DL301 water.emd: class {EVIL!s}", f"line one\nline two{OSC52}"],
        started="2024-01-01T00:00:00Z",
        finished="2024-01-01T00:00:01Z",
    )
    capsys.readouterr()
    print_done(result)
    captured = capsys.readouterr()
    assert_terminal_safe(captured.out)
    assert_terminal_safe(captured.err)
    assert captured.out.startswith("done: 0 files written; chips\\x1b[2J 3")
    warnings = captured.err.splitlines()
    assert len(warnings) == 2 and all(w.startswith("dlpk: warning: ") for w in warnings)


def test_echo_is_the_cli_helper_for_package_data(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    echo(f"fixed DL303 {EVIL}")
    echo(f"--- a\n+++ b{CLEAR}\n", sys.stderr, multiline=True, end="")
    captured = capsys.readouterr()
    assert captured.out == f"fixed DL303 {terminal_safe(EVIL)}\n"
    assert captured.err == "--- a\n+++ b\\x1b[2J\n"


# -- special files are never opened ----------------------------------------------------------
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@needs_fifo
def test_lint_of_a_folder_with_a_fifo_fails_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    hostile_emd(folder, "good.emd")
    os.mkfifo(folder / "pipe.emd")
    done = run_dlpk("lint", str(folder))
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("dlpk: error:") and "pipe.emd" in line and "FIFO" in line


@needs_fifo
@pytest.mark.parametrize("name", ["pipe.emd", "pipe.dlpk"])
def test_lint_and_inspect_of_a_fifo_exit_2_with_one_line(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    for command in ("lint", "inspect"):
        done = run_dlpk(command, str(fifo))
        assert done.returncode == 2, done.stderr
        line = one_line(done.stderr)
        assert line.startswith("dlpk: error:") and "not a regular file" in line


@needs_fifo
@pytest.mark.parametrize("name", ["weights.bin", "sub/data.npy"])
def test_pack_refuses_a_folder_holding_a_fifo_and_leaves_nothing(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "water"
    folder.mkdir()
    (folder / "water.emd").write_text(json.dumps(GOOD_EMD))
    (folder / "model.onnx").write_bytes(b"onnx")
    (folder / name).parent.mkdir(exist_ok=True)
    os.mkfifo(folder / name)
    before = sorted(p.name for p in tmp_path.iterdir())
    done = run_dlpk("pack", str(folder))
    assert done.returncode in (1, 2)
    line = one_line(done.stderr)
    assert "FIFO" in line and name.rsplit("/", 1)[-1] in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no package, no .tmp
    assert not list(tmp_path.rglob("*.tmp"))


@needs_fifo
def test_opening_a_fifo_as_a_model_fails_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.emd"
    os.mkfifo(fifo)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dlpk.errors import InputReadError\n"
        "from dlpk.packaging.unpack import prepared_model\n"
        "try:\n"
        "    with prepared_model(Path(sys.argv[1])):\n"
        "        pass\n"
        "except InputReadError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(fifo)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "not a regular file" in done.stdout


# -- a loose .emd past the package cap -------------------------------------------------------
@pytest.fixture
def oversized_emd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MAX_EMD_BYTES + 1 bytes (sparse: nothing is written); reading it fails the test."""
    path = tmp_path / "huge.emd"
    with path.open("wb") as handle:
        handle.truncate(MAX_EMD_BYTES + 1)

    def no_reading(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("an oversized .emd was read")

    monkeypatch.setattr(lint_module, "_read_file", no_reading)
    return path


def test_lint_reports_an_oversized_emd_unread(
    capsys: pytest.CaptureFixture[str], oversized_emd: Path
) -> None:
    status, out, _ = cli(capsys, "lint", "--format", "json", str(oversized_emd))
    assert status == 1
    (diagnostic,) = json.loads(out)["diagnostics"]
    assert diagnostic["code"] == "DL712"  # the rule of an oversized .emd in a package
    assert str(MAX_EMD_BYTES + 1) in diagnostic["message"]


def test_lint_of_its_folder_reports_it_unread(
    capsys: pytest.CaptureFixture[str], oversized_emd: Path
) -> None:
    status, out, _ = cli(capsys, "lint", str(oversized_emd.parent))
    assert status == 1 and "DL712" in out


def test_inspect_refuses_an_oversized_emd_unread(
    capsys: pytest.CaptureFixture[str], oversized_emd: Path
) -> None:
    status, out, err = cli(capsys, "inspect", str(oversized_emd))
    assert status == 1 and not out  # as for a package whose .emd is too large
    line = one_line(err)
    assert line.startswith("dlpk: error:") and str(MAX_EMD_BYTES) in line


def test_pack_refuses_a_folder_with_an_oversized_emd(
    capsys: pytest.CaptureFixture[str], oversized_emd: Path
) -> None:
    status, _, err = cli(capsys, "pack", str(oversized_emd.parent))
    assert status == 1 and "lint error" in one_line(err)
    assert not list(oversized_emd.parent.parent.rglob("*.tmp"))


# -- rotation ---------------------------------------------------------------------------------
def test_a_tiny_rotation_angle_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = cli(
        capsys,
        "export-chips",
        "--raster",
        str(tmp_path / "r.tif"),
        "-o",
        str(tmp_path / "out"),
        "--rotation-angle",
        "0.001",
    )
    assert status == 2 and not out
    line = one_line(err)
    assert line.startswith("dlpk: error: invalid option: rotation_angle")
    assert "360000" in line and "at least 1 degree" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("angle", "ok"), [(0, True), (1, True), (45, True), (0.999, False)])
def test_rotation_angle_bound(angle: float, ok: bool) -> None:
    if ok:
        assert ExportChipsParameters(rotation_angle=angle).rotation_angle == angle
    else:
        with pytest.raises(ValueError, match="rotated copies"):
            ExportChipsParameters(rotation_angle=angle)


@needs_fifo
def test_a_fifo_named_dlpk_as_a_model_fails_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dlpk"
    os.mkfifo(fifo)
    scene = Path(__file__).parents[2] / "examples" / "scene.tif"
    done = run_dlpk("classify-pixels", "--model", str(fifo), "--raster", str(scene),
                    "-o", str(tmp_path / "out.tif"))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in one_line(done.stderr)
    assert not (tmp_path / "out.tif").exists()
