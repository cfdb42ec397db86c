"""Protocol ``skimage``: scikit-image ``structural_similarity``,
``peak_signal_noise_ratio`` and ``mean_squared_error`` with their defaults.

SSIM defaults (not Wang's): a 7×7 *uniform* window and the *sample*
covariance (moments × NP/(NP − 1), NP = 49); K = (0.01, 0.03); the map is
filtered with reflected borders and (win − 1)/2 = 3 pixels are cropped from
each side before the mean, which equals the 'valid' region; per channel
(``channel_axis``), then the mean over channels. ``data_range`` is L, which
is what scikit-image takes from an integer dtype (uint8 255, uint16 65535)
and what must be passed for floats. PSNR = 10·log10(L²/MSE), MSE in
float64; inf when identical. Colour: ``skimage.color.rgb2ycbcr`` Y
(16 + 65.481·R + 128.553·G + 24.966·B on [0, 1], unrounded) and
``skimage.color.rgb2gray`` (0.2125·R + 0.7154·G + 0.0721·B, BT.709,
unrounded), both kept on the image's scale [0, L]. No MS-SSIM.
"""

from __future__ import annotations

import math

import torch

from .. import pixel as _pixel
from ..color import rgb_to_y_bt601
from ._common import f64, needs_luma, scaled, uniform, valid_stats, weighted

Tensor = torch.Tensor

MIN_SIZE = {"ssim": 7, "ms_ssim": None}
WIN = 7
GRAY_BT709 = (0.2125, 0.7154, 0.0721)


def prepare(x: Tensor, L: float, color: str, integer: bool) -> tuple[Tensor, float]:
    if not needs_luma(x, color):
        return x, L
    if color == "y":
        return rgb_to_y_bt601(f64(x), L), L
    return weighted(x, GRAY_BT709), L


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    a, b = scaled(x, L), scaled(y, L)
    np_ = WIN * WIN
    # C2/cov_norm with unscaled moments equals C2 with moments × cov_norm (algebra, no copy)
    k2 = 0.03 / math.sqrt(np_ / (np_ - 1.0))
    mean_s, _ = valid_stats(a, b, uniform(a, WIN), 0.01, k2)
    return mean_s.mean(dim=1)


def ms_ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    raise ValueError("scikit-image defines no MS-SSIM")


def mse(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.mse(f64(x), f64(y))


def psnr(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.psnr(f64(x), f64(y), L)
