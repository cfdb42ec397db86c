"""Protocol ``piq``: ``piq.ssim``, ``piq.multi_scale_ssim``, ``piq.psnr`` with default
arguments and ``data_range=L`` (inputs divided by L, as piq does).

SSIM (``downsample=True``, the default): f = max(1, round(min(H, W)/256))
with **Python's round** (half to even: 640 px gives 2 where MATLAB gives 3),
then an f×f non-overlapping average (floor size, no anchor shift), then the
Gaussian 11/1.5 'valid' SSIM per channel, mean over channels. MS-SSIM (no
initial downsampling): per channel, 5 scales, Wang's weights; before each
scale after the first, if **either** side is odd both sides are padded by one
replicated row/column at the top and left, then a 2×2 average (floor);
each channel's mean cs and last-scale SSIM clamped at 0; sides ≥ 161.
PSNR = 10·log10(1 / (MSE + 1e-8)) on [0, 1] (80 dB for identical images).
piq builds its window in float32; this is float64. Colour: piq's grey /
YIQ luma 0.299·R + 0.587·G + 0.114·B (``psnr(convert_to_greyscale=True)``),
unrounded, for both y and gray.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._common import prepare_yiq as prepare  # noqa: F401 (the protocol's prepare)
from ._common import (
    WANG_WEIGHTS,
    gauss,
    ms_ssim_loop,
    psnr_from_mse,
    python_round,
    require_side,
    scaled,
    valid_stats,
)
from ._common import (
    mse as _mse,
)

Tensor = torch.Tensor

MIN_SIZE = {"ssim": 11, "ms_ssim": 161}
EPS = 1e-8


def downsample_factor(h: int, w: int) -> int:
    return max(1, python_round(min(h, w) / 256))


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    a, b = scaled(x, L), scaled(y, L)
    f = downsample_factor(*a.shape[-2:])
    if f > 1:
        a, b = F.avg_pool2d(a, kernel_size=f), F.avg_pool2d(b, kernel_size=f)
    return valid_stats(a, b, gauss(a))[0].mean(dim=1)


def _down(x: Tensor) -> Tensor:
    p = max(x.shape[-2] % 2, x.shape[-1] % 2)
    if p:
        x = F.pad(x, (p, 0, p, 0), mode="replicate")
    return F.avg_pool2d(x, kernel_size=2)


def ms_ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    require_side(x, MIN_SIZE["ms_ssim"], "piq multi_scale_ssim ((11-1)*2^4+1)")
    a, b = scaled(x, L), scaled(y, L)
    taps = gauss(a)
    return ms_ssim_loop(a, b, lambda u, v: valid_stats(u, v, taps), _down, WANG_WEIGHTS)


def mse(x: Tensor, y: Tensor, L: float) -> Tensor:
    """On piq's [0, 1] scale."""
    return _mse(scaled(x, L), scaled(y, L))


def psnr(x: Tensor, y: Tensor, L: float) -> Tensor:
    return psnr_from_mse(mse(x, y, L), 1.0, EPS)
