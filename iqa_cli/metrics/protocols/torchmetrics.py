"""Protocol ``torchmetrics``: ``torchmetrics.functional.image``
``structural_similarity_index_measure``, ``multiscale_structural_similarity_index_measure``,
``peak_signal_noise_ratio``, ``mean_squared_error`` (torchmetrics >= 1.4.2) with
``data_range=L`` passed explicitly (its ``None`` would infer the range from the content).

SSIM: Gaussian of size int(3.5σ + 0.5)·2 + 1 = 11, σ = 1.5; each image is
reflect-padded by 5 (mirror without the edge sample) and the **full H×W
map** is averaged, so borders computed on mirrored data count; σx², σy²
clamped at 0; the mean runs over C·H·W jointly. MS-SSIM: per scale the SSIM
is that full-map mean and cs the mean over the 'valid' region (the padded
border cropped), both clamped at 0 (``normalize='relu'``, the default);
channels pooled inside each mean; between scales a 2×2 average that drops an
odd last row/column (floor size); the last scale contributes its SSIM;
H // 16 > 10 and W // 16 > 10, i.e. sides ≥ 176. PSNR/MSE per image (its
``dim=None`` default pools the squared error of a whole batch; one pair at a
time that is the same). torchmetrics computes in the input dtype (float32
for 8-bit images); this is float64. No colour conversion.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import pixel as _pixel
from .._filters import filter_valid
from ._common import (
    WANG_WEIGHTS,
    f64,
    floor_down2,
    gauss,
    ms_ssim_loop,
    no_luma,
    require_side,
    scaled,
)

Tensor = torch.Tensor

MIN_SIZE = {"ssim": 6, "ms_ssim": 176}
PAD = 5  # (11 - 1) / 2


def prepare(x: Tensor, L: float, color: str, integer: bool) -> tuple[Tensor, float]:
    return no_luma(x, color, "torchmetrics"), L


def _maps(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """(SSIM map, cs map) of [0, 1]-scaled images over the reflect-padded full H×W."""
    require_side(a, PAD + 1, "torchmetrics SSIM (reflect padding of 5)")
    taps = gauss(a)
    c = a.shape[1]
    pad = (PAD, PAD, PAD, PAD)
    a, b = F.pad(a, pad, mode="reflect"), F.pad(b, pad, mode="reflect")
    m = filter_valid(torch.cat([a, b, a * a, b * b, a * b], dim=1), taps)
    mu_a, mu_b, e_aa, e_bb, e_ab = m.split(c, dim=1)
    var_a = (e_aa - mu_a * mu_a).clamp_min(0.0)
    var_b = (e_bb - mu_b * mu_b).clamp_min(0.0)
    cov = e_ab - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    lum = (2 * mu_a * mu_b + c1) / (mu_a * mu_a + mu_b * mu_b + c1)
    return lum * cs, cs


def _stats(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    smap, cs = _maps(a, b)
    return smap.mean(dim=(1, 2, 3)), cs[..., PAD:-PAD, PAD:-PAD].mean(dim=(1, 2, 3))


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _maps(scaled(x, L), scaled(y, L))[0].mean(dim=(1, 2, 3))


def ms_ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    require_side(x, MIN_SIZE["ms_ssim"], "torchmetrics MS-SSIM (side // 16 > 10)")
    return ms_ssim_loop(scaled(x, L), scaled(y, L), _stats, floor_down2, WANG_WEIGHTS)


def mse(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.mse(f64(x), f64(y))


def psnr(x: Tensor, y: Tensor, L: float) -> Tensor:
    return _pixel.psnr(f64(x), f64(y), L)
