"""Mixed structural + L1 loss.

``variant="zhao"`` — Zhao, Gallo, Frosio & Kautz, "Loss Functions for Image
Restoration with Neural Networks", IEEE TCI 3(1), 2017 (arXiv 1511.08861)::

    L_mix = α · (1 − MS-SSIM) + (1 − α) · G_σM ⋆ |x − y|,   α = 0.84

where their MS-SSIM uses M = 5 Gaussians σ_G = (0.5, 1, 2, 4, 8) instead of
image downsampling, all exponents 1: MS-SSIM(p) = l_M(p) · Π_j cs_j(p), and
G_σM is the coarsest (σ = 8) Gaussian, so both terms share the same spatial
support. iqa evaluates this densely: 33×33 Gaussians (radius 16 = 2·σ_max, as
the authors' 33-pixel training patches), the 'valid' region (16 px cropped
per side), data scaled to [0, 1] (C1 = 0.01², C2 = 0.03²), and the loss map
averaged over pixels and channels. Differences from the released Caffe code
(NVlabs/PL4NN): it scores only each patch's centre, and its default α is
0.025 although the paper uses 0.84.

``variant="ssim-l1"`` — the widely copied single-scale form::

    L = α · (1 − mean(clip(SSIM map, 0, 1))) + (1 − α) · mean(G₁₁,₁.₅ ⋆ |x − y|)

with every filter applied zero-padded 'same' (border windows see black
pixels) and data scaled to [0, 1].
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from . import _cpu
from ._filters import filter_same_zero, filter_valid, gaussian_window
from .ssim import Precision, channels_last_hint, check_data_range, check_pair, compute_dtype, lum_cs_maps, ssim_maps

Tensor = torch.Tensor

ZHAO_SIGMAS = (0.5, 1.0, 2.0, 4.0, 8.0)
ZHAO_SIZE = 33


def _zhao(x: Tensor, y: Tensor, alpha: float, k1: float, k2: float) -> Tensor:
    h, w = x.shape[-2:]
    if h < ZHAO_SIZE or w < ZHAO_SIZE:
        raise ValueError(f"the zhao mixed loss needs at least {ZHAO_SIZE}x{ZHAO_SIZE} px, got {w}x{h}")
    ms = None
    for sigma in ZHAO_SIGMAS:
        window = gaussian_window(ZHAO_SIZE, sigma, dtype=x.dtype, device=x.device)
        lum, cs = lum_cs_maps(x, y, window, k1, k2)
        ms = cs if ms is None else ms * cs
    ms = ms * lum  # luminance of the coarsest scale only
    l1 = filter_valid((x - y).abs(), window)  # window is the σ = 8 Gaussian
    loss = alpha * (1 - ms) + (1 - alpha) * l1
    return loss.mean(dim=(1, 2, 3), dtype=torch.float64)


def _ssim_l1(x: Tensor, y: Tensor, alpha: float, k1: float, k2: float) -> Tensor:
    window = gaussian_window(11, 1.5, dtype=x.dtype, device=x.device)
    p = 5
    xp = F.pad(x, (p, p, p, p))
    yp = F.pad(y, (p, p, p, p))
    smap, _ = ssim_maps(xp, yp, window, k1, k2)  # = zero-padded 'same'
    l1 = filter_same_zero((x - y).abs(), window)
    loss = alpha * (1 - smap.clamp(0, 1)) + (1 - alpha) * l1
    return loss.mean(dim=(1, 2, 3), dtype=torch.float64)


def mix_loss(
    x: Tensor,
    y: Tensor,
    data_range: float,
    alpha: float = 0.84,
    variant: Literal["zhao", "ssim-l1"] = "zhao",
    *,
    k1: float = 0.01,
    k2: float = 0.03,
    precision: Precision = "auto",
) -> Tensor:
    """Mixed (MS-)SSIM + L1 loss per image, shape (N,); 0 for identical images.

    Args:
        x, y: (N, C, H, W) tensors on the scale ``[0, data_range]``.
        data_range: L; the data is divided by it so the L1 term is in [0, 1].
        alpha: weight of the structural term (0.84 as in the paper).
        variant: ``"zhao"`` (paper-faithful, default) or ``"ssim-l1"``
            (single-scale, zero-padded 'same', clipped SSIM map).

    α = 1 gives 1 − mean(MS-SSIM map); α = 0 gives the Gaussian-weighted L1.
    """
    check_pair(x, y)
    data_range = check_data_range(data_range)
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if variant == "zhao" and min(x.shape[-2:]) < ZHAO_SIZE:
        h, w = x.shape[-2:]
        raise ValueError(channels_last_hint(x) or f"the zhao mixed loss needs at least {ZHAO_SIZE}x{ZHAO_SIZE} px, "
                         f"got {w}x{h}")
    dtype = compute_dtype(x, precision)
    out_dtype = dtype  # results in the compute dtype (float64 on the CPU by default)
    if variant == "zhao" and dtype == torch.float64 and _cpu.usable(x, y):  # the C kernel
        windows = [gaussian_window(ZHAO_SIZE, s) for s in ZHAO_SIGMAS]
        return _cpu.zhao_mean(x, y, data_range, windows, float(alpha), k1, k2)
    xs = x.to(dtype) / data_range
    ys = y.to(dtype) / data_range
    if variant == "zhao":
        out = _zhao(xs, ys, float(alpha), k1, k2)
    elif variant == "ssim-l1":
        out = _ssim_l1(xs, ys, float(alpha), k1, k2)
    else:
        raise ValueError(f"variant must be 'zhao' or 'ssim-l1', not {variant!r}")
    return out.to(out_dtype)
