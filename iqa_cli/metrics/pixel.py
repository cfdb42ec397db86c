"""Pixel-wise error metrics: MSE and PSNR.

MSE  = mean((x − y)²) over every channel and pixel of an image, accumulated
       in float64, on the data's own scale (0..255² for 8-bit data).
PSNR = 10·log10(L² / MSE) per image, L = data range; +inf for identical images.

For a set of images iqa reports the mean of per-image PSNR (not the PSNR of
the pooled MSE, which torchmetrics computes by default).
"""

from __future__ import annotations

import torch

from . import _cpu
from .ssim import check_data_range, check_pair, compute_dtype

Tensor = torch.Tensor


def _out_dtype(x: Tensor) -> torch.dtype:
    return compute_dtype(x, "auto")


CHUNK_ELEMENTS = 1 << 18  # elements per row chunk of the no-grad paths: float64 copies stay small


def row_chunks(x: Tensor) -> list[slice]:
    """Row ranges of about :data:`CHUNK_ELEMENTS` elements of an (N, C, H, W) tensor."""
    n, c, h, w = x.shape
    rows = max(1, CHUNK_ELEMENTS // max(1, n * c * w))
    return [slice(r, min(r + rows, h)) for r in range(0, h, rows)]


def mse(x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error per image, shape (N,), accumulated in float64.

    Any real dtype is accepted (uint8 data is not wrapped around: the
    difference is taken in float64). Without autograd the images are
    converted chunk by chunk, so no float64 copy of a whole image is made.
    Returned in float64 on the CPU or for float64 input, else float32 (as the
    other metrics).
    """
    check_pair(x, y)
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
        d = x.to(torch.float64) - y.to(torch.float64)
        return (d * d).mean(dim=(1, 2, 3)).to(_out_dtype(x))
    if _cpu.usable(x, y):  # the C kernel reads the stored samples
        return (_cpu.sq_diff_sum(x, y) / float(x[0].numel())).to(_out_dtype(x))
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for rows in row_chunks(x):
        d = x[..., rows, :].to(torch.float64) - y[..., rows, :].to(torch.float64)
        total += (d * d).sum(dim=(1, 2, 3))
    return (total / float(x[0].numel())).to(_out_dtype(x))


def psnr(x: Tensor, y: Tensor, data_range: float) -> Tensor:
    """Peak signal-to-noise ratio per image in dB, shape (N,): 10·log10(L²/MSE).

    +inf where the images are identical (MSE = 0); no epsilon is added (piq
    and pyiqa add 1e-8, which caps identical images at 80 dB and biases
    every value slightly).
    """
    data_range = check_data_range(data_range)
    return psnr_from_mse(mse(x, y), data_range).to(_out_dtype(x))


def psnr_from_mse(m: Tensor, data_range: float) -> Tensor:
    """10·log10(L² / MSE) in float64 (+inf where MSE = 0)."""
    return 10.0 * torch.log10(float(data_range) ** 2 / m.to(torch.float64))
