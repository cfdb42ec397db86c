"""Protocol ``basicsr``: BasicSR's ``calculate_psnr`` / ``calculate_ssim`` (numpy path).

The super-resolution convention (EDSR, ESRGAN, SwinIR tables): borders
cropped first (``crop_border``), then optionally the Y channel
(``test_y_channel=True``): with R, G, B = float32(x / 255),
Y = 16 + 65.481·R + 128.553·G + 24.966·B (BT.601 studio swing, MATLAB
``rgb2ycbcr(im2double(.))``) in float64, divided by 255, **cast to float32**,
times 255 in float32; Y is not rounded. A one-channel image is left as it is.
PSNR = 10·log10(255²/MSE) in float64 (inf when identical); SSIM = Wang's
``ssim_index.m`` per channel (Gaussian 11/1.5, 'valid', float64), averaged
over channels. For other data ranges 255 is replaced by L. BasicSR defines no
MS-SSIM and no grey conversion.
"""

from __future__ import annotations

import torch

from .. import pixel as _pixel
from .. import ssim as _ssim
from ._common import f64, needs_luma

Tensor = torch.Tensor

MIN_SIZE = {"ssim": 11, "ms_ssim": None}


def y_channel(x: Tensor, L: float) -> Tensor:
    """BasicSR's ``to_y_channel`` on an (N, 3, H, W) RGB tensor in [0, L], float64 out."""
    n = x.to(torch.float32) / torch.tensor(float(L), dtype=torch.float32)
    r, g, b = (f64(n[:, k : k + 1]) for k in range(3))
    y = b * 24.966 + g * 128.553 + r * 65.481 + 16.0  # BGR order of its dot product
    return f64((y / 255.0).to(torch.float32) * torch.tensor(float(L), dtype=torch.float32))


def prepare(x: Tensor, L: float, color: str, integer: bool) -> tuple[Tensor, float]:
    if not needs_luma(x, color):
        return x, L
    if color == "gray":
        raise ValueError("BasicSR defines no grey conversion: use color='y' (test_y_channel) or 'rgb'")
    return y_channel(x, L), L


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _ssim.ssim(f64(x), f64(y), L)


def ms_ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    raise ValueError("BasicSR defines no MS-SSIM")


def mse(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.mse(f64(x), f64(y))


def psnr(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.psnr(f64(x), f64(y), L)
