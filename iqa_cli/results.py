"""The data model shared by the runner, the reporters and the gate.

No torch here: reporters and ``iqa --help`` must not pay for importing it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable

from ._version import __version__
from .formatting import json_number
from .metrics.registry import COLUMN_INFO
from .settings import Settings
from .status import PairStatus

#: the output contract this version writes (docs/output.md; JSON Schema files in iqa_cli/schemas)
SCHEMA = "iqa/2"
#: the contracts it reads back (iqa merge, --resume)
READABLE_SCHEMAS = ("iqa/1", "iqa/2")
#: how the error of a pair of frame sequences whose frames do not pair up starts
FRAME_MISMATCH = "frame mismatch:"
#: the errors that are a regression (status ``size_mismatch``), written as ``error`` on the wire
MISMATCH_PREFIXES = ("size mismatch:", FRAME_MISMATCH)


@dataclass
class PairResult:
    """One scored (or failed) pair."""

    reference: str | None
    distorted: str | None
    status: PairStatus = PairStatus.OK
    width: int | None = None
    height: int | None = None
    channels: int | None = None
    data_range: float | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    #: byte-identical files (never serialised; the warnings say so)
    identical: bool = field(default=False, repr=False, compare=False)
    #: optional per-pixel maps for reports (``ssim_map`` (h, w) float, ``diff_mask``
    #: (H, W) bool); never serialised
    maps: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    #: optional display arrays for reports (``reference``, ``distorted``: (H, W, C)
    #: uint8), kept by the runner when a report draws the pair; never serialised
    display: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    #: a pair of frame sequences: frame counts, every pool of each column and its worst
    #: frame (JSON-ready; the pair object's ``video``, docs/output.md); None for images
    video: dict[str, Any] | None = None
    #: the per-frame rows of a sequence pair (:class:`~iqa_cli.video_scoring.FrameScore`,
    #: in pair order), for ``--per-frame`` and the reports' charts; never in the pair object
    frames: list[Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.status = PairStatus(self.status)

    @property
    def ok(self) -> bool:
        return self.status == PairStatus.OK

    @property
    def name(self) -> str:
        return self.distorted or self.reference or "?"

    def to_json(self) -> dict[str, Any]:
        """The pair object (``video`` only for a pair of frame sequences)."""
        out = {
            "reference": self.reference,
            "distorted": self.distorted,
            "status": self.status.wire,
            "width": self.width,
            "height": self.height,
            "channels": self.channels,
            "data_range": json_number(self.data_range),
            "metrics": {k: json_number(v) for k, v in self.metrics.items()},
            "warnings": list(self.warnings),
            "error": self.error,
        }
        if self.video is not None:
            out["video"] = self.video
        return out

    def frame_lines(self) -> list[dict[str, Any]]:
        """The per-frame rows (``--per-frame``): ``{"frame", "time", "metrics"}`` each,
        the image API's values of that frame pair (PSNR of identical frames ``"inf"``)."""
        order = {c: i for i, c in enumerate(COLUMN_INFO)}
        return [{"frame": f.ref, "time": f.time,
                 "metrics": {k: json_number(f.values[k]) for k in sorted(f.values, key=lambda c: order.get(c, 1 << 30))}}
                for f in self.frames or ()]


def frame_series(result: PairResult, columns: Iterable[str]) -> dict[str, Any] | None:
    """A pair's values over its frames, for a chart: ``frame`` (reference
    indices), ``time`` (seconds, or None for frames without a rate) and
    ``values`` (column -> one value per frame, None where not computed) for
    the ``columns`` the frames hold; None for an image pair."""
    frames = result.frames
    if not frames:
        return None
    held = [c for c in columns if any(f.values.get(c) is not None for f in frames)]
    return {"frame": [f.ref for f in frames], "time": [f.time for f in frames],
            "values": {c: [f.values.get(c) for f in frames] for c in held}}


def worst_frame_text(video: dict[str, Any] | None, column: str) -> str | None:
    """``"frame 12 (0.480 s)"``: the worst frame of ``column`` in a pair's ``video`` object, or None."""
    w = (video or {}).get("worst", {}).get(column)
    if not w:
        return None
    t = w.get("time")
    return f"frame {w['frame']}" + (f" ({t:.3f} s)" if isinstance(t, (int, float)) and math.isfinite(t) else "")


def summarize(results: Iterable[PairResult], columns: list[str]) -> dict[str, Any]:
    """Count statuses and give mean/std/min/median/max per column over ok pairs
    (``columns``, then any other column an ok pair holds: a video's pooled PSNRs).

    NaN values are left out of the statistics (``n`` says how many values
    were used). +inf values (the PSNR of pairs without any difference) are
    counted in ``infinite`` and left out of the mean and std, which pool the
    finite values (both are +inf when every value is); min, median and max
    are over all values.
    """
    results = list(results)
    out: dict[str, Any] = {
        "pairs": len(results),
        "ok": sum(r.status == PairStatus.OK for r in results),
        "errors": sum(r.status in (PairStatus.ERROR, PairStatus.SIZE_MISMATCH) for r in results),
        "missing": sum(r.status.missing for r in results),
        "metrics": {},
    }
    held = {c for r in results if r.status == PairStatus.OK for c in r.metrics}
    columns = list(columns) + [c for c in COLUMN_INFO if c in held and c not in columns]
    for col in columns:
        vals = [
            float(r.metrics[col])
            for r in results
            if r.status == PairStatus.OK and r.metrics.get(col) is not None and not math.isnan(r.metrics[col])
        ]
        if not vals:
            continue
        infinite = sum(1 for v in vals if v == math.inf)
        pooled = [v for v in vals if v != math.inf]
        if not pooled:
            mean, std = math.inf, math.inf
        elif any(v == -math.inf for v in pooled):
            mean, std = -math.inf, math.nan
        else:
            mean = statistics.fmean(pooled)
            std = statistics.pstdev(pooled) if len(pooled) > 1 else 0.0
        stats: dict[str, Any] = {
            "n": len(vals),
            "mean": mean,
            "std": std,
            "min": min(vals),
            "median": statistics.median(vals),
            "max": max(vals),
        }
        if infinite:
            stats["infinite"] = infinite
        out["metrics"][col] = stats
    return out


def summary_to_json(summary: dict[str, Any]) -> dict[str, Any]:
    out = dict(summary)
    out["metrics"] = {
        col: {k: json_number(v) for k, v in stats.items()} for col, stats in summary["metrics"].items()
    }
    return out


def document(settings: Settings, results: list[PairResult], summary: dict[str, Any] | None = None, *,
             per_frame: bool = False) -> dict[str, Any]:
    """The whole JSON document (the contract :data:`SCHEMA`); ``per_frame``:
    each pair of frame sequences also holds its ``frames``."""
    if summary is None:
        summary = summarize(results, settings.columns)
    pairs = []
    for r in results:
        obj = r.to_json()
        if per_frame and r.frames:
            obj["frames"] = r.frame_lines()
        pairs.append(obj)
    return {
        "schema": SCHEMA,
        "iqa_version": __version__,
        "settings": settings.to_json(),
        "pairs": pairs,
        "summary": summary_to_json(summary),
    }
