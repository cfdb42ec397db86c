"""Protocol ``pytorch-msssim``: ``pytorch_msssim.ssim`` / ``ms_ssim`` with default
arguments and ``data_range=L`` (its default is 255).

SSIM: Gaussian 11/1.5 'valid', population moments, per channel, mean over
channels (``size_average=True`` would further average the batch; values
here are per image); = Wang's ``ssim_index.m`` per channel. The library
builds its window in float32 (measured ~5e-6 from the float64 window).
Images below 11 px are rejected (the library would skip the smoothing along
that axis with only a warning). MS-SSIM: per channel, 5 scales, Wang's
weights; between scales a 2×2 average with zero padding of (H mod 2,
W mod 2) on both sides, zeros counted in the average (odd sizes: darkened
border, shifted phase); each channel's mean cs and last-scale SSIM clamped
at 0; smaller side > 160. The library has no PSNR/MSE and no colour
conversion: PSNR/MSE are the plain float64 definitions on [0, L].
"""

from __future__ import annotations

import torch

from .. import pixel as _pixel
from .. import ssim as _ssim
from ._common import (
    WANG_WEIGHTS,
    f64,
    gauss,
    ms_ssim_loop,
    no_luma,
    require_side,
    scaled,
    valid_stats,
    zero_pad_down2,
)

Tensor = torch.Tensor

MIN_SIZE = {"ssim": 11, "ms_ssim": 161}


def prepare(x: Tensor, L: float, color: str, integer: bool) -> tuple[Tensor, float]:
    return no_luma(x, color, "pytorch-msssim"), L


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _ssim.ssim(f64(x), f64(y), L)


def ms_ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    require_side(x, MIN_SIZE["ms_ssim"], "pytorch-msssim ms_ssim (smaller side > (11-1)*2^4)")
    a, b = scaled(x, L), scaled(y, L)
    taps = gauss(a)
    return ms_ssim_loop(a, b, lambda u, v: valid_stats(u, v, taps), zero_pad_down2, WANG_WEIGHTS)


def mse(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.mse(f64(x), f64(y))


def psnr(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.psnr(f64(x), f64(y), L)
