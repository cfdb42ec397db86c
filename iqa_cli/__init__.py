"""iqa: image quality assessment you can trust.

Public API (imported lazily, so ``import iqa_cli`` does not import torch)::

    from iqa_cli import ssim, ms_ssim, mse, psnr, total_variation, mix_loss
    from iqa_cli import SSIMLoss, MSSSIMLoss, MixLoss, TVLoss
    from iqa_cli import rgb_to_y_bt601, rgb_to_gray_matlab, rgb_to_y_yiq
    from iqa_cli import load_image, IqaError

All metric functions take (N, C, H, W) float tensors on any device and return
one value per image, shape (N,). See each function's docstring for the exact
convention and the reference it reproduces; ``ssim``, ``ms_ssim``, ``psnr``
and ``mse`` also take ``protocol=`` and ``crop_border=`` (``iqa protocols``).
"""

from __future__ import annotations

import importlib

from ._version import __version__

_EXPORTS = {
    "ssim": ".metrics.api",
    "ssim_maps": ".metrics.ssim",
    "ms_ssim": ".metrics.api",
    "mse": ".metrics.api",
    "psnr": ".metrics.api",
    "total_variation": ".metrics.tv",
    "mix_loss": ".metrics.mix",
    "rgb_to_y_bt601": ".metrics.color",
    "rgb_to_gray_matlab": ".metrics.color",
    "rgb_to_y_yiq": ".metrics.color",
    "SSIMLoss": ".losses",
    "MSSSIMLoss": ".losses",
    "MixLoss": ".losses",
    "TVLoss": ".losses",
    "load_image": ".io",
    "IqaError": ".errors",
    "METRICS": ".metrics.registry",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name], __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
