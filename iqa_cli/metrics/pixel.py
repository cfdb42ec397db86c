"""Pixel-wise error metrics: MSE and PSNR.

MSE  = mean((x − y)²) over every channel and pixel of an image, accumulated
       in float64, on the data's own scale (0..255² for 8-bit data).
PSNR = 10·log10(L² / MSE) per image, L = data range; +inf for identical images.

For a set of images iqa reports the mean of per-image PSNR (not the PSNR of
the pooled MSE, which torchmetrics computes by default).
"""

from __future__ import annotations

import torch

from .ssim import check_data_range, check_pair, compute_dtype

Tensor = torch.Tensor


def _out_dtype(x: Tensor) -> torch.dtype:
    return compute_dtype(x, "auto")


def mse(x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error per image, shape (N,), accumulated in float64.

    Returned in float64 on the CPU or for float64 input, else float32 (as the
    other metrics).
    """
    check_pair(x, y)
    d = x.to(torch.float64) - y.to(torch.float64)
    return (d * d).mean(dim=(1, 2, 3)).to(_out_dtype(x))


def psnr(x: Tensor, y: Tensor, data_range: float) -> Tensor:
    """Peak signal-to-noise ratio per image in dB, shape (N,): 10·log10(L²/MSE).

    +inf where the images are identical (MSE = 0); no epsilon is added (piq
    and pyiqa add 1e-8, which caps identical images at 80 dB and biases
    every value slightly).
    """
    data_range = check_data_range(data_range)
    m = mse(x, y).to(torch.float64)
    return (10.0 * torch.log10(data_range**2 / m)).to(_out_dtype(x))
