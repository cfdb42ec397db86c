"""Scoring one (N, C, H, W) stack of aligned pairs: the colour conversion,
then a loop over the requested metrics driven by the registry.

A metric that cannot be computed for these images (too small, undefined)
gets ``None`` and a one-line reason; the other metrics are still computed.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .io import PreparedPair
from .metrics.color import rgb_to_gray_matlab, rgb_to_y_bt601
from .metrics.job import ScoreJob
from .metrics.protocols.table import get_protocol
from .metrics.registry import METRICS
from .settings import Settings


@dataclass
class Scored:
    """The numbers of one pair: values per output column (None: not computed),
    the reasons of metrics not computed, notes, and maps for reports."""

    values: dict[str, float | int | None] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # metric -> reason it was not computed
    notes: list[str] = field(default_factory=list)
    maps: dict[str, Any] | None = None


def to_color(x: torch.Tensor, color: str, data_range: float, integer: bool) -> torch.Tensor:
    """Apply the colour setting to a (N, C, H, W) tensor; an alpha channel
    (C = 2 or 4) is kept; a one-channel image stays as it is."""
    if color == "rgb":
        return x
    c = x.shape[1]
    alpha = x[:, c - 1 :] if c in (2, 4) else None
    colour = x[:, : c - 1] if alpha is not None else x
    if colour.shape[1] == 1:  # grey is already luma: no convention converts it again
        return x
    colour = colour.to(torch.float64)
    if color == "y":
        luma = rgb_to_y_bt601(colour, data_range, round=integer)
    elif color == "gray":
        luma = rgb_to_gray_matlab(colour, round=integer)
    else:
        raise ValueError(f"colour must be rgb, y or gray, not {color!r}")
    return luma if alpha is None else torch.cat([luma, alpha.to(torch.float64)], dim=1)


def apply_tolerance(x: torch.Tensor, y: torch.Tensor, levels: float, data_range: float) -> torch.Tensor:
    """``y`` with every sample within ``levels`` 8-bit levels (``levels·L/255``)
    of ``x`` set to ``x``'s value: dither, anti-aliasing and GPU noise of that
    size then count as no change at all, in every metric."""
    if not levels:
        return y
    limit = float(levels) * float(data_range) / 255.0
    wide = torch.float64 if x.is_floating_point() else torch.int32  # integer differences cannot wrap
    close = (y.to(wide) - x.to(wide)).abs() <= limit
    return torch.where(close, x, y)


def _stacked(arrays: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """(N, C, H, W) tensor of N (C, H, W) arrays; no copy for N = 1 on the CPU."""
    if len(arrays) == 1:
        return torch.from_numpy(np.ascontiguousarray(arrays[0]))[None].to(device)
    return torch.from_numpy(np.stack(arrays)).to(device)


def failure_reason(e: BaseException) -> str:
    """The first line of why scoring failed: the exception's message, else its
    type ("out of memory" for a bare MemoryError)."""
    text = str(e).strip()
    if text:
        return text.splitlines()[0]
    return "out of memory" if isinstance(e, MemoryError) else type(e).__name__


def _cropped(x: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` pixels off each side, before everything else (BasicSR's order)."""
    if not n:
        return x
    h, w = x.shape[-2:]
    if 2 * n >= min(h, w):
        raise ValueError(f"crop border {n} leaves nothing of a {w}x{h} image")
    return x[..., n:h - n, n:w - n]


class _OtherProtocol:
    """SSIM, MS-SSIM, MSE and PSNR under another community's protocol: its
    colour conversion and data-range convention, then its definitions (alpha,
    premultiplied into the colour, is not one of their channels)."""

    metrics = ("ssim", "ms_ssim", "mse", "psnr")

    def __init__(self, name: str, x0, y0, L: float, color: str, integer: bool):
        self.protocol = get_protocol(name)
        self.impl = self.protocol.implementation()
        c = x0.shape[1]
        x0, y0 = (x0[:, : c - 1], y0[:, : c - 1]) if c in (2, 4) else (x0, y0)
        self.note = None
        if color != "rgb" and x0.shape[1] == 3 and not self.protocol.converts_colour:
            # the library has no colour conversion: its users convert first, as iqa's colour setting does
            x0, y0 = to_color(x0, color, L, integer), to_color(y0, color, L, integer)
            self.note = f"{name} has no colour conversion: {color} by iqa's MATLAB conversion, then {name}"
            color = "rgb"
        self.x, self.L = self.impl.prepare(x0, L, color, integer)
        self.y, _ = self.impl.prepare(y0, L, color, integer)

    def min_side(self, metric: str) -> int | None:
        sizes = dict(self.protocol.min_size)
        return sizes[metric] if metric in sizes else 1  # MSE and PSNR need one pixel

    def value(self, metric: str) -> torch.Tensor:
        return getattr(self.impl, metric)(self.x, self.y, self.L)


def _scorer(name: str):
    module, func = METRICS[name].scorer.split(":")
    return getattr(importlib.import_module(f"iqa_cli.metrics.{module}"), func)


def score_stack(
    preps: list[PreparedPair],
    settings: Settings,
    device: torch.device,
    *,
    integer: bool = False,
    identical: bool = False,
    keep_maps: bool = False,
) -> list[Scored]:
    """The requested metrics of N pairs of one shape, sample dtype and data
    range, computed as one batch; each pair gets its own numbers.
    ``identical`` (byte-identical files) only for N = 1."""
    n = len(preps)
    if n < 1 or (identical and n > 1):
        raise ValueError("score_stack: one or more pairs, and identical only for one")
    L = float(preps[0].data_range)
    # the stored samples (uint8 / float32 / float64, see prepare_pair): the
    # metrics read them as they are and accumulate in float64
    x0 = _cropped(_stacked([p.reference for p in preps], device), settings.crop_border)
    y0 = x0 if identical else _cropped(_stacked([p.distorted for p in preps], device), settings.crop_border)
    y0 = y0 if identical else apply_tolerance(x0, y0, settings.tolerance, L)
    x = to_color(x0, settings.color, L, integer)
    y = x if identical else to_color(y0, settings.color, L, integer)
    h, w = x.shape[-2:]
    ignore = None
    if preps[0].ignore is not None:
        if n > 1:
            raise ValueError("score_stack: a masked pair is scored alone")
        ignore = _cropped(torch.from_numpy(np.ascontiguousarray(preps[0].ignore)), settings.crop_border)
        ignore = ignore.to(device)
    job = ScoreJob(x, y, x0, y0, L, frozenset(settings.metrics), settings, identical=identical,
                   keep_map=keep_maps, ignore=ignore)
    out = [Scored(maps={} if keep_maps else None) for _ in range(n)]
    other = _OtherProtocol(settings.protocol, x0, y0, L, settings.color, integer) \
        if not get_protocol(settings.protocol).native else None
    if other is not None and ignore is not None:
        raise ValueError(f"an ignore mask applies to iqa's own definitions, not to protocol {settings.protocol}")

    for name in settings.metrics:
        info = METRICS[name]
        need = info.min_size
        if other is not None and name in other.metrics:
            need = other.min_side(name)
        if need is None:
            reason = f"protocol {settings.protocol} defines no {name}"
            values = None
        elif min(h, w) < need:
            reason = f"needs at least {need}x{need} px, image is {w}x{h}"
            values = None
        elif other is not None and name in other.metrics:
            try:
                values = {name: other.value(name)}
            except ValueError as e:
                reason, values = failure_reason(e), None
            if other.note and values is not None:
                for s in out:
                    if other.note not in s.notes:
                        s.notes.append(other.note)
        elif identical and info.identical is not None:
            values = {c: torch.full((1,), info.identical, dtype=torch.float64) for c in info.column_names}
        else:
            try:
                values = _scorer(name)(job)
            except ValueError as e:  # a metric's own check: undefined for these images
                reason, values = failure_reason(e), None
        for i, s in enumerate(out):
            if values is None:
                s.failed[name] = reason
                s.notes.append(f"{name}: {reason}; not computed")
                s.values.update({c: None for c in info.column_names})
                continue
            for col, v in values.items():
                s.values[col] = int(v[i]) if info.columns[0].format == "count" else float(v[i])
            if name == "ms_ssim" and math.isnan(s.values["ms_ssim"]):
                s.notes.append("ms_ssim: a scale has negative similarity (anti-correlated content): NaN as in msssim.m")

    if ignore is not None:
        share = float(ignore.double().mean()) * 100
        windows = job.cache.get("windows")
        used = f"; SSIM over {windows[0]} of {windows[1]} windows" if windows else ""
        for s in out:
            s.notes.append(f"ignore mask: {share:.1f}% of the pixels ignored{used}")
    if keep_maps:
        from .metrics.adapters import changed, ssim_and_map

        if min(h, w) >= METRICS["ssim"].min_size and not identical:
            smap = ssim_and_map(job)[1]
            for i, s in enumerate(out):
                s.maps["ssim_map"] = smap[i].mean(dim=0).to(torch.float32).cpu().numpy()
        mask = changed(job)
        for i, s in enumerate(out):
            s.maps["diff_mask"] = mask[i].cpu().numpy()
            if ignore is not None:
                s.maps["ignore"] = ignore.cpu().numpy()
    return out
