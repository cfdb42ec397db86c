"""Metric functions: pure torch functions on (N, C, H, W) tensors.

One module per metric family:

- :mod:`.ssim` — SSIM (Wang's ``ssim_index.m`` and ``ssim.m``)
- :mod:`.ms_ssim` — MS-SSIM (Wang's ``msssim.m``)
- :mod:`.pixel` — MSE and PSNR
- :mod:`.tv` — total variation
- :mod:`.mix` — mixed (MS-)SSIM + L1 loss
- :mod:`.local` — local-change metrics for CI gates (worst block SSIM, changed pixels)
- :mod:`.color` — luma / grey conversions
- :mod:`._filters` — shared Gaussian and box filters
- :mod:`.registry` — name, direction and range of every metric (no torch import)

Attributes are imported lazily so that importing the registry does not import torch.
The public ``ssim`` and ``ms_ssim`` are ``iqa_cli.ssim`` / ``iqa_cli.ms_ssim``
(here those names are the modules).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ssim_maps": ".ssim",
    "mse": ".pixel",
    "psnr": ".pixel",
    "total_variation": ".tv",
    "mix_loss": ".mix",
    "rgb_to_y_bt601": ".color",
    "rgb_to_gray_matlab": ".color",
    "rgb_to_y_yiq": ".color",
    "gaussian_window": "._filters",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name], __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
