"""Protocol ``wang``: Wang's reference scripts, iqa's own functions.

SSIM = ``ssim_index.m`` (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004);
MS-SSIM = ``msssim.m`` (Wang, Simoncelli, Bovik, Asilomar 2003); MSE/PSNR in
float64 per image. Colour: per-channel mean, or MATLAB ``rgb2ycbcr`` Y /
``rgb2gray``, rounded for integer samples as MATLAB does for uint8/uint16.
"""

from __future__ import annotations

import torch

from .. import ms_ssim as _ms
from .. import pixel as _pixel
from .. import ssim as _ssim
from ._common import matlab_luma

Tensor = torch.Tensor

MIN_SIZE = {"ssim": 11, "ms_ssim": 176}


def prepare(x: Tensor, L: float, color: str, integer: bool) -> tuple[Tensor, float]:
    return matlab_luma(x, L, color, integer), L


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _ssim.ssim(x, y, L)


def ms_ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _ms.ms_ssim(x, y, L)


def mse(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.mse(x, y)


def psnr(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.psnr(x, y, L)
