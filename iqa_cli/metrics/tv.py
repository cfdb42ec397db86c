"""Total variation (TV) of an image, from forward differences

    dh[i, j] = x[i+1, j] − x[i, j],   dw[i, j] = x[i, j+1] − x[i, j]

norms (summed over channels):

- ``"l1"`` (default, anisotropic): Σ|dh| + Σ|dw| — equals
  ``tf.image.total_variation``, torchmetrics ``total_variation`` and piq's
  ``norm_type='l1'``.
- ``"isotropic"`` (Rudin–Osher–Fatemi): Σ_{i<H−1, j<W−1} √(dh² + dw²), the last
  row and column cropped.
- ``"l2_squared"``: Σdh² + Σdw² (piq's ``'l2_squared'``; note piq's ``'l2'`` is the
  square root of this, which is *not* isotropic TV).

reductions:

- ``"sum"``: the sums above.
- ``"mean"``: divided by the number of difference terms
  (C·((H−1)·W + H·(W−1)), or C·(H−1)·(W−1) for isotropic): a mean absolute
  gradient, comparable across image sizes. iqa's ``tv`` columns use this on
  data scaled to [0, 1].
- ``"directional_mean"``: Σ|dh|ᵖ/count_h + Σ|dw|ᵖ/count_w (not for isotropic).
  With ``norm="l2_squared"`` and a factor 2 (``TVLoss(weight=2)``) this is the
  widely copied PyTorch ``TVLoss`` (3×3 ramp → 4.0).
"""

from __future__ import annotations

from typing import Literal

import torch

from . import _cpu
from .pixel import row_chunks
from .ssim import compute_dtype

Tensor = torch.Tensor


def _sqrt_finite_grad(s: Tensor, eps: float) -> Tensor:
    if eps > 0:
        return torch.sqrt(s + eps)
    # exact value; the gradient at s == 0 (a flat neighbourhood) is 0 instead of NaN
    positive = s > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, s, torch.ones_like(s))), torch.zeros_like(s))


def total_variation(
    x: Tensor,
    norm: Literal["l1", "isotropic", "l2_squared"] = "l1",
    reduction: Literal["sum", "mean", "directional_mean"] = "sum",
    eps: float = 0.0,
    *,
    data_range: float | None = None,
) -> Tensor:
    """Total variation per image, shape (N,), of an (N, C, H, W) tensor.

    Args:
        x: images, any scale (iqa's CLI passes data scaled to [0, 1]).
        norm: ``"l1"`` (anisotropic, default), ``"isotropic"`` or ``"l2_squared"``.
        reduction: ``"sum"``, ``"mean"`` (per difference term) or
            ``"directional_mean"``; see the module docstring.
        eps: for ``"isotropic"``, added inside the square root (the smooth
            variant some losses use). The default 0 gives the exact value and a
            zero (not NaN) gradient where both differences are 0.
        data_range: if given, the TV of ``x / data_range`` (iqa's ``tv``
            columns), computed chunk by chunk without a scaled copy of ``x``;
            the same numbers as passing ``x / data_range`` for float64 ``x``.
    """
    if x.dim() != 4:
        raise ValueError(f"input must be an (N, C, H, W) tensor, got {tuple(x.shape)}")
    n, c, h, w = x.shape
    if h < 2 or w < 2:
        raise ValueError(f"total variation needs at least 2x2 pixels, got {w}x{h}")
    if norm in ("l1", "l2_squared") and not (torch.is_grad_enabled() and x.requires_grad):
        # float64 sums chunk by chunk; returned like mse (float64 on the CPU)
        out = compute_dtype(x, "auto") if x.is_floating_point() else torch.float64
        if _cpu.usable(x):  # the C kernel reads the stored samples
            sums = _cpu.tv_sums(x, 1.0 if data_range is None else data_range, norm == "l2_squared")
        else:
            sums = _sums_chunked(x, norm, data_range)
        th, tw = (t.to(out) for t in sums)
    else:
        if data_range is not None:
            x = x / data_range
        if not x.is_floating_point():
            x = x.to(torch.float64)
        th, tw = _sums(x, norm, reduction, eps)
        if norm == "isotropic":
            return th
    count_h, count_w = c * (h - 1) * w, c * h * (w - 1)
    if reduction == "sum":
        return th + tw
    if reduction == "mean":
        return (th + tw) / (count_h + count_w)
    if reduction == "directional_mean":
        return th / count_h + tw / count_w
    raise ValueError(f"reduction must be 'sum', 'mean' or 'directional_mean', not {reduction!r}")


def _sums_chunked(x: Tensor, norm: str, data_range: float | None) -> tuple[Tensor, Tensor]:
    """Σ over dh and Σ over dw (l1 or l2_squared) in float64, row chunk by row
    chunk (no float64 copy of the whole image; integer data cannot wrap)."""
    th = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    tw = torch.zeros_like(th)
    h = x.shape[-2]
    for rows in row_chunks(x):
        stop = min(rows.stop + 1, h)  # one row of overlap for the vertical differences
        part = x[..., rows.start : stop, :].to(torch.float64)
        if data_range is not None:
            part = part / data_range
        dh = part[:, :, 1:, :] - part[:, :, :-1, :]
        dw = part[:, :, : rows.stop - rows.start, 1:] - part[:, :, : rows.stop - rows.start, :-1]
        if norm == "l1":
            th += dh.abs().sum(dim=(1, 2, 3))
            tw += dw.abs().sum(dim=(1, 2, 3))
        else:
            th += (dh * dh).sum(dim=(1, 2, 3))
            tw += (dw * dw).sum(dim=(1, 2, 3))
    return th, tw


def _sums(x: Tensor, norm: str, reduction: str, eps: float) -> tuple[Tensor, Tensor]:
    """(Σ over dh, Σ over dw) on the whole image (autograd path); for
    ``"isotropic"`` the finished value and None."""
    n, c, h, w = x.shape
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]
    if norm == "isotropic":
        if reduction == "directional_mean":
            raise ValueError("reduction 'directional_mean' is not defined for isotropic TV")
        s = dh[:, :, :, :-1] ** 2 + dw[:, :, :-1, :] ** 2
        total = _sqrt_finite_grad(s, eps).sum(dim=(1, 2, 3))
        return (total / (c * (h - 1) * (w - 1)) if reduction == "mean" else total), None
    if norm == "l1":
        return dh.abs().sum(dim=(1, 2, 3)), dw.abs().sum(dim=(1, 2, 3))
    if norm == "l2_squared":
        return (dh * dh).sum(dim=(1, 2, 3)), (dw * dw).sum(dim=(1, 2, 3))
    raise ValueError(f"norm must be 'l1', 'isotropic' or 'l2_squared', not {norm!r}")
