"""Model arguments as ArcGIS passes them: name -> string, coerced here, defaults from the .emd.

Names and defaults follow arcgis.learn's PRFs (docs/esri-formats.md#arguments) so an argument string
that works in ArcGIS (`padding 64;threshold 0.4`) works here as `--arg padding=64 --arg
threshold=0.4`. `score_threshold`, the name Esri's generic ObjectDetector.py gives the same 0-1
cut-off (the function ArcGIS runs for TensorFlow ObjectDetectionAPI packages), is accepted for
`threshold`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlpk.errors import UsageError
from dlpk.runners.io.windows import TileGrid, default_padding
from dlpk.runners.tasks.inference.nms import METRICS
from dlpk.spec.emd import EsriModelDefinition
from dlpk.validator.suggest import did_you_mean

EDGE_FILLS = ("zero", "reflect")
COMMON = ("padding", "batch_size", "tile_size", "edge_fill")
MERGE_POLICIES = ("mean", "max", "min")
PIXEL_ARGUMENTS = (*COMMON, "predict_background", "test_time_augmentation", "merge_policy")
DETECTOR_ARGUMENTS = (
    *COMMON,
    "threshold",
    "score_threshold",
    "nms_overlap",
    "nms_metric",
    "exclude_pad_detections",
    "test_time_augmentation",
    "tta_scales",
)


@dataclass(frozen=True)
class Arguments:
    grid: TileGrid
    batch_size: int
    edge_fill: str
    threshold: float
    nms_overlap: float
    exclude_pad_detections: bool
    predict_background: bool | None  # None: not given, a background channel may win
    test_time_augmentation: bool = False
    merge_policy: str = "mean"
    nms_metric: str = "iou"
    tta_scales: tuple[float, ...] = (1.0,)
    allowed: tuple[str, ...] = COMMON

    def resolved(self) -> dict[str, str]:
        """The values used, as strings, for the task summary."""
        values = {
            "tile_size": f"{self.grid.tile_height}x{self.grid.tile_width}",
            "padding": str(self.grid.padding),
            "batch_size": str(self.batch_size),
            "edge_fill": self.edge_fill,
            "threshold": str(self.threshold),
            "nms_overlap": str(self.nms_overlap),
            "nms_metric": self.nms_metric,
            "exclude_pad_detections": str(self.exclude_pad_detections),
            "test_time_augmentation": str(self.test_time_augmentation),
            "merge_policy": self.merge_policy,
            "tta_scales": ",".join(f"{scale:g}" for scale in self.tta_scales),
        }
        if self.predict_background is not None:
            values["predict_background"] = str(self.predict_background)
        return {name: value for name, value in values.items() if name in self.allowed}


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--arg {name}={text}: not an integer") from None


def _float(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--arg {name}={text}: not a number") from None
    if not low <= value <= high:
        raise UsageError(f"--arg {name}={text}: must be between {low} and {high}")
    return value


def _choice(name: str, text: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, in any case (ArcGIS's functions lower-case their string arguments)."""
    value = text.strip().lower()
    if value not in choices:
        raise UsageError(f"--arg {name}={text}: expected one of {', '.join(choices)}")
    return value


def _scales(name: str, text: str) -> tuple[float, ...]:
    """arcgis.learn's comma list of tile scale factors ("0.9,1,1.1"), each from 0.25 to 4."""
    parts = [part.strip() for part in text.split(",")]
    scales = tuple(_float(name, part, 0.25, 4.0) for part in parts if part)
    if not scales:
        raise UsageError(f"--arg {name}={text}: expected scale factors such as 0.9,1,1.1")
    return tuple(dict.fromkeys(scales))  # each scale once, in the order given


def _bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise UsageError(f"--arg {name}={text}: expected True or False")


def _threshold(raw: dict[str, str], emd: EsriModelDefinition) -> float:
    """`threshold`, or Esri's `score_threshold` for it (both 0-1); the .emd's Threshold, else
    0.5, by default."""
    given = {name: raw[name] for name in ("threshold", "score_threshold") if name in raw}
    values = {name: _float(name, text, 0.0, 1.0) for name, text in given.items()}
    if len(set(values.values())) > 1:
        raise UsageError(
            f"--arg threshold={given['threshold']} and --arg "
            f"score_threshold={given['score_threshold']} disagree",
            "give one of them (score_threshold is Esri's name for threshold)",
        )
    if values:
        return next(iter(values.values()))
    return float(emd.Threshold) if emd.Threshold is not None else 0.5


def _predict_background(raw: dict[str, str], emd: EsriModelDefinition) -> bool | None:
    """None (not given) lets a background channel win (tasks/inference/classes.py). A DeepLab
    model predicts class Values, background 0 included, and Esri's DeepLab.py writes them as
    they are: its background channel always may win, and suppressing it would only put the
    first class in its place."""
    given = (
        _bool("predict_background", raw["predict_background"])
        if "predict_background" in raw
        else None
    )
    if (emd.Framework, emd.configuration_name) != ("TensorFlow", "DeepLab"):
        return given
    if given is False:
        raise UsageError(
            "--arg predict_background=False: a TensorFlow DeepLab model predicts class "
            "Values, which are written as predicted",
            "drop predict_background",
        )
    return True


def parse_arguments(
    raw: dict[str, str], emd: EsriModelDefinition, allowed: tuple[str, ...]
) -> Arguments:
    """Coerce `raw`, fill defaults from the .emd, and check the tile geometry."""
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        guess = did_you_mean(unknown, allowed)
        raise UsageError(
            f"unknown argument(s) {', '.join(unknown)}",
            f"{guess + ' ' if guess else ''}this task takes: {', '.join(allowed)}",
        )
    height = emd.ImageHeight or 256
    width = emd.ImageWidth or height
    if "tile_size" in raw:
        height = width = _int("tile_size", raw["tile_size"])
    padding_default = default_padding(height, emd.ModelPadding)
    padding = _int("padding", raw["padding"]) if "padding" in raw else padding_default
    edge_fill = _choice("edge_fill", raw.get("edge_fill", "zero"), EDGE_FILLS)
    try:
        grid = TileGrid(height, width, padding)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    batch = _int("batch_size", raw["batch_size"]) if "batch_size" in raw else emd.BatchSize or 4
    if batch <= 0:
        raise UsageError(f"--arg batch_size={batch}: must be positive")
    merge_policy = _choice("merge_policy", raw.get("merge_policy", "mean"), MERGE_POLICIES)
    return Arguments(
        grid=grid,
        batch_size=batch,
        edge_fill=edge_fill,
        threshold=_threshold(raw, emd),
        nms_overlap=_float("nms_overlap", raw.get("nms_overlap", "0.1"), 0.0, 1.0),
        exclude_pad_detections=_bool(
            "exclude_pad_detections", raw.get("exclude_pad_detections", "True")
        ),
        predict_background=_predict_background(raw, emd),
        test_time_augmentation=_bool(
            "test_time_augmentation", raw.get("test_time_augmentation", "False")
        ),
        merge_policy=merge_policy,
        nms_metric=_choice("nms_metric", raw.get("nms_metric", "iou"), METRICS),
        tta_scales=_scales("tta_scales", raw.get("tta_scales", "1")),
        allowed=allowed,
    )
