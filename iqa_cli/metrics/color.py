"""Colour to luma/grey conversions (N, 3, H, W) → (N, 1, H, W), on the data's
own scale [0, L].

- :func:`rgb_to_y_bt601`: BT.601 studio-swing Y as MATLAB ``rgb2ycbcr``:
  Y = 16·L/255 + (65.481·R + 128.553·G + 24.966·B)/255 with R, G, B in [0, L],
  so Y ∈ [16, 235] for 8-bit data. The "PSNR-Y / SSIM-Y" convention of the
  super-resolution literature.
- :func:`rgb_to_gray_matlab`: MATLAB ``rgb2gray``,
  0.298936021293775·R + 0.587043074451121·G + 0.114020904255103·B.
- :func:`rgb_to_y_yiq`: plain YIQ / BT.601 weights 0.299, 0.587, 0.114.

MATLAB rounds the result back to the integer type for uint8/uint16 input;
pass ``round=True`` to do the same (half away from zero; values are positive,
so floor(v + 0.5)), and ``dtype=torch.uint8`` (or ``torch.uint16``) to also
store it in that type, as MATLAB returns it (saturated to the type's range,
NaN as 0): ``rgb_to_gray_matlab(x, round=True, dtype=torch.uint8)`` is
``rgb2gray`` of a uint8 image, value for value.

By default the result is float64 for integer and float64 input and float32
for float32 input (computed in float32). On the CPU, when no gradient is
needed, the C extension computes the same expression from the stored
samples (each product and sum rounded on its own, so the bits and every
rounding tie are those of the torch expression) without float64 copies of
the channels.
"""

from __future__ import annotations

import torch

from . import _cpu

Tensor = torch.Tensor

GRAY_MATLAB = (0.298936021293775, 0.587043074451121, 0.114020904255103)
YIQ = (0.299, 0.587, 0.114)
BT601_STUDIO = (65.481, 128.553, 24.966)


_INTEGER_OUT = tuple(d for d in (torch.uint8, getattr(torch, "uint16", None)) if d is not None)


def _weighted(
    x: Tensor, weights: tuple[float, float, float], offset: float, rnd: bool, dtype: torch.dtype | None
) -> Tensor:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected an (N, 3, H, W) RGB tensor, got {tuple(x.shape)}")
    integer = dtype is not None and not dtype.is_floating_point
    if integer and dtype not in _INTEGER_OUT:
        raise ValueError(f"dtype must be a floating type, torch.uint8 or torch.uint16, not {dtype}")
    if integer and not rnd:
        raise ValueError("an integer dtype needs round=True (MATLAB rounds to the integer type)")
    if x.numel() and _cpu.usable(x):  # the C kernel reads the stored samples
        y = _cpu.luma(x, weights, offset, rnd, dtype if integer else None)
        return y if dtype is None or y.dtype == dtype else y.to(dtype)
    if not x.is_floating_point():
        x = x.to(torch.float64)
    y = weights[0] * x[:, 0:1] + weights[1] * x[:, 1:2] + weights[2] * x[:, 2:3]
    if offset:
        y = y + offset
    if rnd:
        y = torch.floor(y + 0.5)
    if integer:  # MATLAB's conversion: saturate, NaN to 0
        hi = float(torch.iinfo(dtype).max)
        return torch.nan_to_num(y, nan=0.0, posinf=hi, neginf=0.0).clamp(0.0, hi).to(dtype)
    return y if dtype is None else y.to(dtype)


def rgb_to_y_bt601(
    x: Tensor, data_range: float = 255.0, *, round: bool = False, dtype: torch.dtype | None = None
) -> Tensor:
    """BT.601 studio-swing luma Y as MATLAB ``rgb2ycbcr`` (16–235 for 8-bit).

    ``dtype``: the result's type; None: float64 for integer and float64 input,
    else the input's float type;
    torch.uint8 / torch.uint16 (with ``round=True``): MATLAB's integer
    result, saturated to the type's range.
    """
    w = tuple(v / 255.0 for v in BT601_STUDIO)
    return _weighted(x, w, 16.0 * float(data_range) / 255.0, round, dtype)


def rgb_to_gray_matlab(x: Tensor, *, round: bool = False, dtype: torch.dtype | None = None) -> Tensor:
    """MATLAB ``rgb2gray`` weights (0.298936…, 0.587043…, 0.114020…).

    ``dtype``: as for :func:`rgb_to_y_bt601`.
    """
    return _weighted(x, GRAY_MATLAB, 0.0, round, dtype)


def rgb_to_y_yiq(x: Tensor, *, round: bool = False, dtype: torch.dtype | None = None) -> Tensor:
    """Y of YIQ: 0.299·R + 0.587·G + 0.114·B.

    ``dtype``: as for :func:`rgb_to_y_bt601`.
    """
    return _weighted(x, YIQ, 0.0, round, dtype)
