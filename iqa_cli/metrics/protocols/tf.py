"""Protocol ``tf``: TensorFlow ``tf.image.ssim``, ``tf.image.ssim_multiscale``, ``tf.image.psnr``.

Integer images are converted to [0, 1] (``convert_image_dtype``: x / L, with
``max_val`` scaled alike); float images keep their scale with max_val = L.
SSIM: Gaussian 11/1.5 (TF builds it with a softmax, the same normalised
Gaussian), 'VALID', population moments, per channel then the mean over
channels: Wang's ``ssim_index.m`` per channel. MS-SSIM: per channel, 5
scales with Wang's weights, between scales a symmetric pad of the odd
remainder at the bottom/right and a 2×2 'VALID' average (= ``msssim.m``),
each channel's mean cs and last-scale SSIM clamped at 0 (ReLU), then the
mean over channels; any side ≥ 161. PSNR = 10·log10(max_val²/MSE) per image.
TF computes in float32; this is the float64 value of the same definition.
Colour: ``tf.image.rgb_to_yuv`` Y (0.299, 0.587, 0.114) and
``tf.image.rgb_to_grayscale`` (0.2989, 0.5870, 0.1140), unrounded.
"""

from __future__ import annotations

import torch

from .. import ssim as _ssim
from ..color import YIQ
from ._common import (
    WANG_WEIGHTS,
    f64,
    gauss,
    matlab_down2,
    ms_ssim_loop,
    needs_luma,
    psnr_from_mse,
    require_side,
    scaled,
    valid_stats,
    weighted,
)
from ._common import (
    mse as _mse,
)

Tensor = torch.Tensor

MIN_SIZE = {"ssim": 11, "ms_ssim": 161}
GRAY_TF = (0.2989, 0.5870, 0.1140)


def prepare(x: Tensor, L: float, color: str, integer: bool) -> tuple[Tensor, float]:
    if integer:
        x, L = scaled(x, L), 1.0
    if needs_luma(x, color):
        x = weighted(x, YIQ if color == "y" else GRAY_TF)
    return x, L


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _ssim.ssim(f64(x), f64(y), L)


def ms_ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    require_side(x, MIN_SIZE["ms_ssim"], "tf.image.ssim_multiscale (an 11x11 window at its 5th scale)")
    a, b = scaled(x, L), scaled(y, L)
    taps = gauss(a)
    return ms_ssim_loop(a, b, lambda u, v: valid_stats(u, v, taps), matlab_down2, WANG_WEIGHTS)


def mse(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _mse(x, y)


def psnr(x: Tensor, y: Tensor, L: float) -> Tensor:
    return psnr_from_mse(_mse(x, y), L)
