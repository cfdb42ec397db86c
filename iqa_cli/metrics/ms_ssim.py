"""MS-SSIM: multi-scale structural similarity (Wang, Simoncelli & Bovik 2003).

Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale structural similarity for
image quality assessment", 37th Asilomar Conference, 2003.

With M = 5 scales and weights w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)::

    MS-SSIM = Π_{j=1..M-1} mean(cs_j)^{w_j} · mean(SSIM_M)^{w_M}

where scale 1 is the input and scale j+1 is scale j low-passed by a 2×2 box
and decimated by 2. Conventions of Wang's ``msssim.m``: per-scale SSIM/cs on
the 'valid' region with the 11×11, σ = 1.5 Gaussian; the 2×2 box is anchored
on pixels (2i, 2i+1) with the image mirrored at its bottom/right end, so odd
sizes keep ceil(M/2) samples; the last scale uses the full SSIM (luminance
included). The smallest side must be ≥ 11·2⁴ = 176.

A negative mean cs (anti-correlated content) raised to a fractional power is
undefined (complex in MATLAB): ``negative="nan"`` returns NaN and warns,
``"relu"`` clamps each term at 0 (TF, pytorch-msssim, piq), ``"simple"`` maps
each term v to (v + 1)/2 (torchmetrics' "simple").
"""

from __future__ import annotations

import functools
import warnings
from typing import Literal, Sequence

import numpy as np
import torch

from . import _cpu
from ._filters import gaussian_taps, gaussian_window, matlab_box_decimate
from .ssim import Precision, channels_last_hint, check_data_range, check_pair, compute_dtype, mean_ssim_cs

Tensor = torch.Tensor

WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def min_side(levels: int = 5, window_size: int = 11) -> int:
    """Smallest image side msssim.m accepts: window · 2^(levels−1) (176 by default)."""
    return window_size * 2 ** (levels - 1)


def _power(terms: Tensor, weights: Tensor, negative: str) -> Tensor:
    if negative == "nan":
        return terms**weights
    if negative == "simple":
        return ((terms + 1) / 2) ** weights
    if negative == "relu":
        # 0^w has an infinite derivative; keep the gradient finite (zero) there.
        positive = terms > 0
        safe = torch.where(positive, terms, torch.ones_like(terms))
        return torch.where(positive, safe**weights, torch.zeros_like(terms))
    raise ValueError(f"negative must be 'nan', 'relu' or 'simple', not {negative!r}")


def _warn_negative(stacklevel: int) -> None:
    warnings.warn(
        "MS-SSIM: a scale has negative similarity (anti-correlated content); "
        "the result is NaN as in msssim.m (use negative='relu' or 'simple' to clamp)",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )


@functools.lru_cache(maxsize=16)
def _weights(weights: tuple) -> Tensor:
    """The scale exponents as a float64 CPU tensor (made once per tuple)."""
    return torch.tensor(weights, dtype=torch.float64)


def check_arguments(x: Tensor, y: Tensor, data_range: float, weights, window_size: int) -> tuple[float, int]:
    """The checks every MS-SSIM runs first; returns (data range, number of scales)."""
    check_pair(x, y)
    data_range = check_data_range(data_range)
    levels = len(weights)
    if levels < 1:
        raise ValueError("weights must not be empty")
    need = min_side(levels, window_size)
    h, w = x.shape[-2:]
    if min(h, w) < need:
        raise ValueError(
            channels_last_hint(x)
            or f"MS-SSIM needs images of at least {need}x{need} px ({levels} scales of an "
            f"{window_size}x{window_size} window); got {w}x{h}"
        )
    return data_range, levels


def ms_ssim(
    x: Tensor,
    y: Tensor,
    data_range: float,
    *,
    weights: Sequence[float] = WANG_WEIGHTS,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    negative: Literal["nan", "relu", "simple"] = "nan",
    precision: Precision = "auto",
) -> Tensor:
    """Multi-scale SSIM per image, shape (N,): Wang's ``msssim.m``, computed per
    channel and averaged over channels.

    Args:
        x, y: (N, C, H, W) tensors on the scale ``[0, data_range]``.
        data_range: L (255 for 8-bit data); never inferred.
        weights: per-scale exponents; their count is the number of scales.
        negative: what to do with a negative mean cs or last-scale SSIM:
            ``"nan"`` (metric mode, default; warns), ``"relu"`` (loss mode),
            ``"simple"`` ((v + 1)/2).
        precision: as in :func:`iqa_cli.ssim`.

    Raises:
        ValueError: the smaller side is below ``window_size·2^(scales−1)``
            (176 for the defaults), as msssim.m requires.
    """
    return ms_ssim_and_ssim(
        x, y, data_range, weights=weights, window_size=window_size, sigma=sigma, k1=k1, k2=k2,
        negative=negative, precision=precision, stacklevel=3,
    )[0]


def ms_ssim_and_ssim(
    x: Tensor,
    y: Tensor,
    data_range: float,
    *,
    weights: Sequence[float] = WANG_WEIGHTS,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    negative: Literal["nan", "relu", "simple"] = "nan",
    precision: Precision = "auto",
    warn: bool = True,
    stacklevel: int = 2,
) -> tuple[Tensor, Tensor]:
    """:func:`ms_ssim` and, from its first scale, the single-scale SSIM of the
    same window and constants, each (N,). Scale 1 is the input itself, so this
    SSIM is bit for bit :func:`~.ssim.ssim` (``downsample="none"``) at no extra
    cost; the CLI uses it when both metrics are asked for. ``warn=False``
    leaves out the RuntimeWarning of ``negative="nan"`` (the runner reports
    each NaN on its own pair instead); ``stacklevel`` places that warning
    (3 from :func:`ms_ssim`, so it names the caller's line).
    """
    data_range, levels = check_arguments(x, y, data_range, weights, window_size)
    dtype = compute_dtype(x, precision)
    out_dtype = dtype  # results in the compute dtype (float64 on the CPU by default)
    if dtype == torch.float64 and _cpu.usable(x, y):  # the C kernel: one pass per scale from the stored samples
        # numpy until the powers: a torch op right after the threaded passes cost 10-35 µs each
        all_s, all_cs = _cpu.ms_ssim_means(x, y, data_range, gaussian_taps(window_size, sigma), k1, k2, levels)
        first = _cpu.channel_mean(all_s[..., 0])  # as ssim() reduces it
        terms_np = np.concatenate([all_cs[..., : levels - 1], all_s[..., levels - 1 :]], axis=-1)
        if warn and negative == "nan" and bool((terms_np < 0).any()):
            _warn_negative(stacklevel)
        wt = _weights(tuple(float(w) for w in weights))
        per_channel = _power(torch.from_numpy(terms_np), wt, negative).prod(dim=-1)
        return _cpu.channel_mean(per_channel.numpy()), first
    window = gaussian_window(window_size, sigma, dtype=dtype, device=x.device)
    xs, ys = x.to(dtype) / data_range, y.to(dtype) / data_range
    terms = []
    for level in range(levels):
        mean_s, mean_cs, _ = mean_ssim_cs(xs, ys, window, k1, k2)
        if level == 0:
            first = mean_s.mean(dim=1).to(out_dtype)  # as ssim() reduces it
        terms.append(mean_s if level == levels - 1 else mean_cs)
        if level < levels - 1:
            xs, ys = matlab_box_decimate(xs, 2), matlab_box_decimate(ys, 2)
    stacked = torch.stack(terms, dim=-1)  # (N, C, levels), float64
    wt = torch.tensor(tuple(weights), dtype=stacked.dtype, device=stacked.device)
    if warn and negative == "nan" and bool((stacked < 0).any()):
        _warn_negative(stacklevel)
    per_channel = _power(stacked, wt, negative).prod(dim=-1)
    return per_channel.mean(dim=1).to(out_dtype), first
