"""Protocol ``matlab``: Wang's ``ssim.m`` (2009), SSIM with automatic downsampling.

Before the SSIM of ``ssim_index.m`` the images are low-passed with an f×f box
(``imfilter(..., 'symmetric', 'same')``, MATLAB's anchor) and every f-th
sample is kept, f = max(1, round(min(H, W)/256)) with MATLAB rounding (half
away from zero); this is the "suggested usage" of Wang et al. 2004. MS-SSIM
is ``msssim.m``, which has no such downsampling; MSE/PSNR and colour
(``rgb2ycbcr``/``rgb2gray``, rounded on integer samples) are as in ``wang``.
"""

from __future__ import annotations

import torch

from .. import ssim as _ssim
from .wang import MIN_SIZE, ms_ssim, mse, prepare, psnr  # noqa: F401  (same definitions)

Tensor = torch.Tensor


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _ssim.ssim(x, y, L, downsample="matlab")
