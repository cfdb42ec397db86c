"""Differentiable losses with exactly the metrics' definitions.

Each loss is ``1 − similarity`` (or the metric itself for TV and the mixed
loss), reduced over the batch with ``reduction`` = ``"mean"`` | ``"sum"`` |
``"none"``. Inputs are (N, C, H, W) on the scale ``[0, data_range]``
(default 1.0, the usual range of network outputs); a loss has its input's
floating dtype (computed inside in float64 on the CPU). Gradients are finite for
identical and for anti-correlated inputs; MS-SSIM defaults to
``negative="relu"`` here so an anti-correlated batch gives a loss, not NaN.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .metrics.mix import mix_loss
from .metrics.ms_ssim import ms_ssim
from .metrics.ssim import ssim
from .metrics.tv import total_variation

Tensor = torch.Tensor


def _like_input(values: Tensor, x: Tensor) -> Tensor:
    """The loss in its input's floating dtype (the metrics compute and reduce in
    float64 on the CPU); the cast is differentiable, so gradients still flow."""
    return values.to(x.dtype) if x.is_floating_point() and values.dtype != x.dtype else values


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


class _PairLoss(nn.Module):
    def __init__(self, data_range: float = 1.0, reduction: str = "mean", **options: Any):
        super().__init__()
        _reduce(torch.zeros(1), reduction)  # validate early
        self.data_range = float(data_range)
        self.reduction = reduction
        self.options = options

    def extra_repr(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"data_range={self.data_range}, reduction={self.reduction!r}{opts}"


class SSIMLoss(_PairLoss):
    """``1 − ssim(x, y)`` per image (see :func:`iqa_cli.ssim` for options)."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return _like_input(_reduce(1 - ssim(x, y, self.data_range, **self.options), self.reduction), x)


class MSSSIMLoss(_PairLoss):
    """``1 − ms_ssim(x, y, negative="relu")`` per image (see :func:`iqa_cli.ms_ssim`)."""

    def __init__(self, data_range: float = 1.0, reduction: str = "mean", negative: str = "relu", **options: Any):
        super().__init__(data_range, reduction, negative=negative, **options)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return _like_input(_reduce(1 - ms_ssim(x, y, self.data_range, **self.options), self.reduction), x)


class MixLoss(_PairLoss):
    """The mixed (MS-)SSIM + L1 loss of :func:`iqa_cli.mix_loss` (α = 0.84, ``zhao``)."""

    def __init__(
        self, data_range: float = 1.0, alpha: float = 0.84, variant: str = "zhao", reduction: str = "mean", **options: Any
    ):
        super().__init__(data_range, reduction, alpha=alpha, variant=variant, **options)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return _like_input(_reduce(mix_loss(x, y, self.data_range, **self.options), self.reduction), x)


class TVLoss(nn.Module):
    """Total variation of one batch (see :func:`iqa_cli.total_variation`), times ``weight``.

    ``TVLoss(norm="l2_squared", tv_reduction="directional_mean", weight=2.0)``
    is the widely copied PyTorch ``TVLoss``; the default is the anisotropic
    L1 TV per difference term (``tv_reduction="mean"``).
    """

    def __init__(
        self,
        norm: str = "l1",
        tv_reduction: str = "mean",
        weight: float = 1.0,
        reduction: str = "mean",
        eps: float = 0.0,
    ):
        super().__init__()
        _reduce(torch.zeros(1), reduction)
        self.norm, self.tv_reduction, self.weight, self.reduction, self.eps = norm, tv_reduction, weight, reduction, eps

    def forward(self, x: Tensor) -> Tensor:
        tv = total_variation(x, self.norm, self.tv_reduction, self.eps)
        return _like_input(_reduce(self.weight * tv, self.reduction), x)
