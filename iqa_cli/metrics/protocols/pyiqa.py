"""Protocol ``pyiqa``: pyiqa (IQA-PyTorch) ``psnr``/``psnry``, ``ssimc``/``ssim``, ``ms_ssim``
with their default options.

Inputs are taken to [0, 1] (x / L), as pyiqa expects. Colour: ``rgb`` gives
the per-channel metrics (``psnr``, ``ssimc``, MS-SSIM with
``test_y_channel=False``); ``y`` and ``gray`` give pyiqa's luma, the Y of
YIQ, 0.299·R + 0.587·G + 0.114·B on [0, 1] (``psnry``, ``ssim``,
``ms_ssim``); pyiqa has no other grey.

- PSNR: 10·log10(1 / (MSE + 1e-8)) on [0, 1] (the epsilon caps identical
  images at 80 dB). pyiqa computes it in float32; this is the float64 value.
- SSIM: the [0, 1] image (or its Y) times 255 and rounded (half to even),
  Gaussian 11/1.5 'valid' per channel, C from L = 255, and the cs map clamped
  at 0 pixel by pixel (``relu``) before the product with the luminance map;
  mean over channels and pixels.
- MS-SSIM: the same rounded input and per-pixel ReLU; 5 scales, Wang's
  weights, product form; between scales a 2×2 average with zero padding of
  (H mod 2, W mod 2) on both sides, the zeros counted in the average; channel
  pooling inside each scale's mean.
"""

from __future__ import annotations

import torch

from ._common import prepare_yiq as prepare  # noqa: F401 (the protocol's prepare)
from ._common import (
    WANG_WEIGHTS,
    gauss,
    ms_ssim_loop,
    psnr_from_mse,
    relu_cs_stats,
    require_side,
    scaled,
    zero_pad_down2,
)
from ._common import (
    mse as _mse,
)

Tensor = torch.Tensor

MIN_SIZE = {"ssim": 11, "ms_ssim": 161}
EPS = 1e-8


def _rounded(x: Tensor, L: float) -> Tensor:
    """pyiqa's SSIM input: the [0, 1] image times 255, rounded (torch.round: half to even),
    returned on [0, 1] again."""
    return torch.round(scaled(x, L) * 255.0) / 255.0


def ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    a, b = _rounded(x, L), _rounded(y, L)
    return relu_cs_stats(a, b, gauss(a))[0]


def ms_ssim(x: Tensor, y: Tensor, L: float) -> Tensor:
    require_side(x, MIN_SIZE["ms_ssim"], "pyiqa MS-SSIM (an 11x11 window at its 5th scale)")
    a, b = _rounded(x, L), _rounded(y, L)
    taps = gauss(a)
    return ms_ssim_loop(a, b, lambda u, v: relu_cs_stats(u, v, taps), zero_pad_down2, WANG_WEIGHTS)


def mse(x: Tensor, y: Tensor, L: float) -> Tensor:
    """On pyiqa's [0, 1] scale."""
    return _mse(scaled(x, L), scaled(y, L))


def psnr(x: Tensor, y: Tensor, L: float) -> Tensor:
    return psnr_from_mse(mse(x, y, L), 1.0, EPS)
