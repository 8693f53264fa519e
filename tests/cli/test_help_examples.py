"""Every command's --help ends with examples, and each example runs as its help shows it: in a
fresh folder holding examples/, with trees.dlpk, roofs.dlpk and job/ built for the examples
that name them. Examples needing Docker run where Docker is (CI); those needing root and a
Debian mirror (images bootstrap-base) are parsed, not run."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from dlpk.cli.examples import EXAMPLES
from dlpk.cli.main import build_parser
from dlpk.cli.parser import DlpkParser
from tests.conftest import REPO
from tests.inference_models import emd, make_detector, package, save_torchscript

STATUS = re.compile(r"\(exit status (\d+)\)")


def commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> dict[str, argparse.ArgumentParser]:
    """Every (sub)command's parser by its name, nested ones as `images build`."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(commands(sub, f"{prefix}{name} "))
    return found


def from_help(text: str) -> list[tuple[list[str], int, str]]:
    """The examples section of a --help text as (argv after `dlpk`, exit status, needs)."""
    _, marker, section = text.partition("\nexamples (")
    assert marker, "no examples section"
    found: list[tuple[list[str], int, str]] = []
    status, needs, pending = 0, "", ""
    for line in section.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("# "):
            match = STATUS.search(stripped)
            status = int(match.group(1)) if match else 0
            needs = stripped.rpartition("[needs ")[2].rstrip("]") if "[needs " in line else ""
            continue
        pending += stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            words = shlex.split(pending)
            assert words[0] == "dlpk"
            found.append((words[1:], status, needs))
            pending = ""
    return found


PARSER = build_parser()
COMMANDS = commands(PARSER)


def test_every_command_ends_its_help_with_examples() -> None:
    assert set(EXAMPLES) == set(COMMANDS)
    for name, parser in COMMANDS.items():
        assert isinstance(parser, DlpkParser), f"{name}: not a DlpkParser (dlpk/cli/main.py)"
        text = parser.format_help()
        examples = from_help(text)
        if name != "images list":  # it has no options: one example says all
            assert 2 <= len(examples) <= 3, name
        assert text.rstrip().endswith(examples[-1][0][-1]), f"{name}: examples are not last"
        for argv, _, _ in examples:
            assert " ".join(argv).startswith(name), f"{name}: {argv}"


def test_every_example_parses() -> None:
    for name, parser in COMMANDS.items():
        for argv, _, _ in from_help(parser.format_help()):
            parsed = PARSER.parse_args(argv)
            assert callable(parsed.func), f"{name}: {argv}"


def _detector(folder: Path) -> None:
    """trees.dlpk: a TorchScript detector (squares of 1s or 2s; none in the scene)."""
    (folder / "trees").mkdir()
    save_torchscript(make_detector(), folder / "trees" / "model.pt")
    package(folder / "trees", emd("model.pt", "TorchScript", "ObjectDetector", ImageHeight=128,
                                  ImageWidth=128))  # fmt: skip


def _classifier(folder: Path) -> None:
    """roofs.dlpk: a TorchScript object classifier (mean colour -> two roof classes)."""
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2)
    ).eval()
    (folder / "roofs").mkdir()
    save_torchscript(module, folder / "roofs" / "model.pt")
    document = {
        "Framework": "TorchScript", "ModelConfiguration": "ObjectClassifier",
        "ModelType": "ObjectClassification", "ModelFile": "model.pt", "ImageHeight": 64,
        "ImageWidth": 64, "ExtractBands": [0, 1, 2],
        "Classes": [{"Value": 1, "Name": "Flat", "Color": [200, 0, 0]},
                    {"Value": 2, "Name": "Pitched", "Color": [0, 0, 200]}],
    }  # fmt: skip
    package(folder / "roofs", document)


def _job(folder: Path) -> None:
    """job/: an export_chips job of the scene, which may replace its chips (it runs twice)."""
    (folder / "job" / "in").mkdir(parents=True)
    (folder / "job" / "in" / "scene.tif").write_bytes((REPO / "examples/scene.tif").read_bytes())
    job = {"apiVersion": "dlpk/v1", "task": "export_chips", "inputs": {"in_raster": "in/scene.tif"},
           "parameters": {"metadata_format": "Export_Tiles", "output_nofeature_tiles": "ALL_TILES",
                          "tile_size_x": 128, "stride_x": 128, "overwrite": True}}  # fmt: skip
    (folder / "job" / "job.json").write_text(json.dumps(job))


NEEDS = {"trees.dlpk": _detector, "roofs.dlpk": _classifier, "job": _job}


def _runs_here(argv: list[str], needs: str) -> bool:
    """Image builds (minutes; `make images` builds them the same way) and debootstrap as root
    are parsed above, not run; the rest run, those needing Docker where it is."""
    return needs != "root" and argv[:2] != ["images", "build"]


RUNNABLE = sorted(
    name
    for name, examples in EXAMPLES.items()
    if any(_runs_here(shlex.split(e.command)[1:], e.needs) for e in examples)
)


@pytest.mark.parametrize("name", RUNNABLE)
def test_examples_run_as_shown(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    from dlpk.cli.main import main

    examples = [e for e in from_help(COMMANDS[name].format_help()) if _runs_here(e[0], e[2])]
    if any(needs == "docker" for _, _, needs in examples):
        request.getfixturevalue("docker_ready")
    (tmp_path / "examples").symlink_to(REPO / "examples")
    for argv, _, _ in examples:
        for word, build in NEEDS.items():
            if word in argv and not (tmp_path / word).exists():
                build(tmp_path)
    monkeypatch.chdir(tmp_path)
    for argv, status, _ in examples:
        code = main(argv)
        captured = capsys.readouterr()
        assert code == status, f"dlpk {shlex.join(argv)}: {captured.err}"
