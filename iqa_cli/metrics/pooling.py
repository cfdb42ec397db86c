"""Pooling per-frame values into one value per video (numpy only).

Pools, each named by what it does to quality (``direction`` is the
registry's ``"higher"`` or ``"lower"`` is better):

* ``mean``: the arithmetic mean (FFmpeg's ``ssim`` log line, libvmaf's
  default pool, ffmpeg-quality-metrics' "average").
* ``min``: the **worst** frame: the minimum of a higher-is-better metric
  (SSIM, PSNR), the maximum of a lower-is-better one (MSE). libvmaf
  ``pool=min``.
* ``harmonic``: ``n / sum(1 / x_i)``, which weighs bad frames more than the
  mean, for higher-is-better metrics with every value > 0 (else None: a
  frame at or below 0 makes it undefined). libvmaf's ``harmonic_mean`` is a
  different number, ``n / sum(1 / (x_i + 1)) - 1`` (a +1 shift made for
  VMAF's 0..100 scale, libvmaf.c ``vmaf_score_pooled``); for SSIM in [0, 1]
  that shift makes it almost the arithmetic mean, so iqa uses the plain form.
* ``p1``: the "1 % low": the mean of the worst ``ceil(n / 100)`` frames (at
  least one, so for up to 100 frames it is the worst frame), as frame-time
  "1 % lows" are averaged in game benchmarking. Not a percentile: VMAF's
  Python tools pool ``perc5``/``perc10``/``perc20`` with ``numpy.percentile``
  (interpolated, Netflix/vmaf#818) and Av1an targets an interpolated
  percentile; those are values *at* a rank, this is the mean *below* it.

NaN values (MS-SSIM of a frame with a negative scale) and None (not
computed) are left out of every pool; the result says how many values were
used. A metric with no better direction (TV) gets only ``mean``.

PSNR over frames, two ways, both named:

* :func:`psnr_mean_db`: the mean of per-frame PSNR in dB, each frame's value
  capped at ``cap_db`` -- identical frames (infinite PSNR) count at the cap.
  The default cap (:func:`psnr_cap`) is libvmaf's ``6·bits + 12`` dB (60 dB at
  8 bits, 72 at 10), applied as libvmaf applies it, to every frame: a frame
  above the cap counts at the cap, so an identical frame never scores below a
  nearly identical one. The cap corresponds to an RMS error of about a quarter
  of one code value at any bit depth and does not depend on the frame size.
  With this cap the Y value equals libvmaf's default pooled ``psnr_y``.
  (ffmpeg-quality-metrics instead drops infinite frames before averaging.)
* :func:`psnr_total`: PSNR of the total squared error over every sample of
  every frame, ``10·log10(L²·N / SSE)``, = PSNR of the mean MSE when all
  frames have one size: FFmpeg's ``psnr`` "average" and libvmaf's
  ``enable_apsnr``. Infinite only when every frame is identical (not capped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .registry import psnr_cap  # noqa: F401  (the metric fact lives in the registry; pooled here)

POOLS = ("mean", "min", "harmonic", "p1")
HIGHER, LOWER = "higher", "lower"


def _clean(values: Iterable[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """(valid values as float64, their positions): None and NaN left out."""
    vals, pos = [], []
    for i, v in enumerate(values):
        if v is None:
            continue
        v = float(v)
        if math.isnan(v):
            continue
        vals.append(v)
        pos.append(i)
    return np.asarray(vals, dtype=np.float64), np.asarray(pos, dtype=np.int64)


def _oriented(direction: str) -> float:
    """+1 when higher is better, -1 when lower is better (worst = smallest of sign·x)."""
    if direction == HIGHER:
        return 1.0
    if direction == LOWER:
        return -1.0
    raise ValueError(f"direction must be {HIGHER!r} or {LOWER!r}, not {direction!r}")


def mean(values: Iterable[float | None]) -> float | None:
    """Arithmetic mean of the valid values (None if there are none)."""
    v, _ = _clean(values)
    return float(v.mean()) if v.size else None


def worst_frame(values: Sequence[float | None], direction: str = HIGHER) -> int | None:
    """Position of the worst valid value (the first one on ties), or None."""
    v, pos = _clean(values)
    if not v.size:
        return None
    return int(pos[int(np.argmin(_oriented(direction) * v))])


def worst(values: Iterable[float | None], direction: str = HIGHER) -> float | None:
    """The worst valid value: min if higher is better, max if lower is."""
    sign = _oriented(direction)
    v, _ = _clean(values)
    if not v.size:
        return None
    return float(v.min() if sign > 0 else v.max())


def harmonic(values: Iterable[float | None]) -> float | None:
    """``n / sum(1/x)`` of the valid values; None if none, or if any is <= 0."""
    v, _ = _clean(values)
    if not v.size or (v <= 0).any():
        return None
    return float(v.size / np.sum(1.0 / v))


def p1(values: Iterable[float | None], direction: str = HIGHER) -> float | None:
    """Mean of the worst ``ceil(n / 100)`` valid values (at least one)."""
    v, _ = _clean(values)
    if not v.size:
        return None
    k = max(1, math.ceil(v.size / 100))
    s = np.sort(_oriented(direction) * v)[:k]
    return float(_oriented(direction) * s.mean())


@dataclass(frozen=True)
class Pooled:
    """The pools of one metric over the frames of a video."""

    mean: float | None
    min: float | None  # the worst frame's value
    harmonic: float | None
    p1: float | None
    n: int  # values used
    left_out: int  # None or NaN values left out
    worst_frame: int | None  # position of the worst value in the input

    def get(self, how: str) -> float | None:
        if how not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, not {how!r}")
        return getattr(self, how)

    def as_dict(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in POOLS}


def pool_all(values: Sequence[float | None], direction: str) -> Pooled:
    """Every pool of one metric; ``direction`` ``"higher"``, ``"lower"`` or
    anything else (no better direction: only the mean)."""
    v, _ = _clean(values)
    n, left = int(v.size), len(values) - int(v.size)
    if direction not in (HIGHER, LOWER):
        return Pooled(mean(values), None, None, None, n, left, None)
    return Pooled(
        mean=mean(values),
        min=worst(values, direction),
        harmonic=harmonic(values) if direction == HIGHER else None,
        p1=p1(values, direction),
        n=n,
        left_out=left,
        worst_frame=worst_frame(values, direction),
    )


# ---------------------------------------------------------------------------- PSNR

def psnr_db(mse: float, data_range: float) -> float:
    """``10·log10(L² / MSE)``; +inf for MSE 0."""
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(float(data_range) ** 2 / float(mse))


def capped(psnr_values: Iterable[float | None], cap_db: float) -> list[float | None]:
    """Per-frame PSNR with every value above ``cap_db`` (inf included) at the cap."""
    return [None if p is None else (p if math.isnan(p) else min(float(p), cap_db)) for p in psnr_values]


@dataclass(frozen=True)
class PsnrMean:
    value: float | None  # mean of the capped per-frame dB
    cap_db: float
    capped_frames: int  # frames counted at the cap (identical ones included)
    n: int


def psnr_mean_db(mse_per_frame: Sequence[float | None], data_range: float, cap_db: float) -> PsnrMean:
    """Mean of per-frame PSNR (dB), each capped at ``cap_db`` (see the module docstring)."""
    per = [None if m is None else psnr_db(m, data_range) for m in mse_per_frame]
    caps = capped(per, cap_db)
    v, _ = _clean(caps)
    hit = sum(1 for p in per if p is not None and not math.isnan(p) and p >= cap_db)
    return PsnrMean(float(v.mean()) if v.size else None, float(cap_db), hit, int(v.size))


def psnr_total(sse: float, samples: int, data_range: float) -> float:
    """PSNR from the total squared error over ``samples`` samples: ``10·log10(L²·N / SSE)``
    (+inf when SSE is 0)."""
    if samples <= 0:
        raise ValueError("psnr_total needs at least one sample")
    if sse == 0:
        return math.inf
    return 10.0 * math.log10(float(data_range) ** 2 * float(samples) / float(sse))
