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
from .metrics.registry import DEFAULT_METRICS, METRICS, columns_for
from .status import PairStatus

SCHEMA = "iqa/1"


@dataclass(frozen=True)
class Settings:
    """Everything that changes a number. Recorded in every report."""

    metrics: tuple[str, ...] = DEFAULT_METRICS
    color: str = "rgb"  # rgb | y | gray
    alpha: str = "premultiplied"  # premultiplied | drop | over=COLOUR
    downsample: str = "none"  # none | matlab
    data_range: float | None = None  # None: from the file's sample type
    bit_depth: int | None = None  # 16-bit files holding N-bit payloads
    device: str = "cpu"  # resolved device actually used
    mix_variant: str = "zhao"  # zhao | ssim-l1
    mix_alpha: float = 0.84
    tv_reduction: str = "mean"  # mean | sum
    below: float = 0.9  # level for ssim_below
    pixel_tol: float = 0.0  # tolerance for diff_pixels, image units
    block: int = 16  # block size for ssim_min
    max_pixels: int | None = None  # decompression-bomb guard
    tolerance: float = 0.0  # per-sample differences up to this many 8-bit levels (x L/255) count as none
    protocol: str = "wang"  # whose conventions SSIM, MS-SSIM, MSE and PSNR follow (iqa protocols)
    crop_border: int = 0  # pixels removed from each side of both images before everything else
    ignore: tuple[tuple[int, int, int, int], ...] = ()  # X, Y, W, H regions no metric sees
    mask: str | None = None  # a mask image (non-zero = ignored), or a folder of them by pair name
    exif_transpose: bool = False  # apply EXIF orientation tags after decoding

    @property
    def columns(self) -> list[str]:
        return columns_for(self.metrics)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metrics": list(self.metrics),
            "color": self.color,
            "alpha": self.alpha,
            "downsample": self.downsample,
            "data_range": "dtype" if self.data_range is None else self.data_range,
            "device": self.device,
            "protocol": self.protocol,
            "crop_border": self.crop_border,
        }
        if self.bit_depth is not None:
            out["bit_depth"] = self.bit_depth
        if self.tolerance:
            out["tolerance"] = self.tolerance
        if self.ignore:
            out["ignore"] = [list(r) for r in self.ignore]
        if self.mask:
            out["mask"] = self.mask
        if self.exif_transpose:  # only when on, like bit_depth: documents of the default stay as they were
            out["exif_transpose"] = True
        for name in self.metrics:  # the options of the selected metrics, as the registry names them
            for key, attr in METRICS[name].options:
                *parents, leaf = key.split(".")
                node = out
                for p in parents:
                    node = node.setdefault(p, {})
                node[leaf] = getattr(self, attr)
        return out

    def describe(self) -> str:
        """One line naming the conventions, for the table's settings line."""
        ds = "ssim.m auto-downsampling" if self.downsample == "matlab" else "no downsampling"
        dr = "from dtype" if self.data_range is None else f"{self.data_range:g}"
        if self.bit_depth:
            dr += f" (bit depth {self.bit_depth})"
        if self.protocol == "wang":
            proto = f"SSIM: Wang ssim_index.m, 11x11 Gaussian sigma 1.5, valid, {ds}"
        else:
            proto = f"protocol {self.protocol} (see `iqa protocols`)"
        parts = [
            proto,
            *([f"crop {self.crop_border} px"] if self.crop_border else []),
            f"colour {self.color}",
            f"alpha {self.alpha}",
            f"data range {dr}",
            f"device {self.device}",
        ]
        if self.exif_transpose:
            parts.append("EXIF orientation applied")
        if "mix" in self.metrics:
            parts.append(f"mix {self.mix_variant} alpha {self.mix_alpha:g}")
        return "; ".join(parts)


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

    def __post_init__(self) -> None:
        self.status = PairStatus(self.status)

    @property
    def ok(self) -> bool:
        return self.status == PairStatus.OK

    @property
    def name(self) -> str:
        return self.distorted or self.reference or "?"

    def to_json(self) -> dict[str, Any]:
        return {
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


def summarize(results: Iterable[PairResult], columns: list[str]) -> dict[str, Any]:
    """Count statuses and give mean/std/min/median/max per column over ok pairs.

    NaN values are left out of the statistics (``n`` says how many values
    were used); +inf (PSNR of identical images) is kept, so a mean can be inf.
    """
    results = list(results)
    out: dict[str, Any] = {
        "pairs": len(results),
        "ok": sum(r.status == PairStatus.OK for r in results),
        "errors": sum(r.status in (PairStatus.ERROR, PairStatus.SIZE_MISMATCH) for r in results),
        "missing": sum(r.status.missing for r in results),
        "metrics": {},
    }
    for col in columns:
        vals = [
            float(r.metrics[col])
            for r in results
            if r.status == PairStatus.OK and r.metrics.get(col) is not None and not math.isnan(r.metrics[col])
        ]
        if not vals:
            continue
        finite = [v for v in vals if math.isfinite(v)]
        if len(finite) == len(vals):
            mean = statistics.fmean(vals)
            std = statistics.pstdev(vals) if len(vals) > 1 else 0.0
        else:
            # +inf only (or -inf only): the mean is that infinity; both: undefined
            signs = {v > 0 for v in vals if not math.isfinite(v)}
            mean = statistics.fmean(vals) if len(signs) == 1 else math.nan
            std = math.nan
        out["metrics"][col] = {
            "n": len(vals),
            "mean": mean,
            "std": std,
            "min": min(vals),
            "median": statistics.median(vals),
            "max": max(vals),
        }
    return out


def summary_to_json(summary: dict[str, Any]) -> dict[str, Any]:
    out = dict(summary)
    out["metrics"] = {
        col: {k: json_number(v) for k, v in stats.items()} for col, stats in summary["metrics"].items()
    }
    return out


def document(settings: Settings, results: list[PairResult], summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole ``iqa/1`` JSON document."""
    if summary is None:
        summary = summarize(results, settings.columns)
    return {
        "schema": SCHEMA,
        "iqa_version": __version__,
        "settings": settings.to_json(),
        "pairs": [r.to_json() for r in results],
        "summary": summary_to_json(summary),
    }
