"""Label text files: PASCAL VOC XML (also used by Labeled/MultiLabeled tiles) and KITTI."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from dlpk.version import __version__

Box = tuple[str, float, float, float, float]  # name, xmin, ymin, xmax, ymax (pixels)


def pascal_voc(filename: str, width: int, height: int, depth: int, objects: Sequence[Box]) -> str:
    """`<annotation>` as Export Training Data writes it; coordinates with 2 decimals
    (docs/esri-formats.md#folder-layout)."""
    lines = [
        '<?xml version="1.0"?>',
        "<annotation>",
        f"  <filename>{escape(filename)}</filename>",
        f"  <source><annotation>dlpk {escape(__version__)}</annotation></source>",
        "  <size>",
        f"    <width>{width}</width>",
        f"    <height>{height}</height>",
        f"    <depth>{depth}</depth>",
        "  </size>",
    ]
    for name, xmin, ymin, xmax, ymax in objects:
        lines += [
            "  <object>",
            f"    <name>{escape(name)}</name>",
            "    <difficult>0</difficult>",
            "    <bndbox>",
            f"      <xmin>{xmin:.2f}</xmin>",
            f"      <ymin>{ymin:.2f}</ymin>",
            f"      <xmax>{xmax:.2f}</xmax>",
            f"      <ymax>{ymax:.2f}</ymax>",
            "    </bndbox>",
            "  </object>",
        ]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def kitti(objects: Sequence[Box]) -> str:
    """15 columns: class, truncated, occluded, alpha, left top right bottom, 7 unused
    (docs/esri-formats.md#folder-layout)."""
    out = []
    for name, xmin, ymin, xmax, ymax in objects:
        box = f"{xmin:.2f} {ymin:.2f} {xmax:.2f} {ymax:.2f}"
        out.append(f"{name} 0.00 0 0.00 {box} 0.00 0.00 0.00 0.00 0.00 0.00 0.00\n")
    return "".join(out)
