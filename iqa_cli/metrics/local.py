"""Local-change metrics for regression gates.

A mean SSIM of 0.998 over a 4K screenshot can hide a missing button; these
metrics look at the worst place instead of the average.

- ``ssim_min``: the minimum, over every b×b block position (b = 16 by
  default, all offsets, not a fixed grid), of the mean of the SSIM map
  (channel mean, 'valid' map of :func:`iqa_cli.ssim`).
- ``ssim_below``: fraction of the (channel-mean) SSIM map below a level.
- ``diff_pixels``: pixels whose largest channel difference exceeds a
  tolerance (in the image's own units; tolerance 0 counts every change).
- ``diff_ratio``: diff_pixels / (H·W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..settings import DECLARED
from .pixel import row_chunks

Tensor = torch.Tensor


def ssim_min(ssim_map: Tensor, block: int = DECLARED["block"].default) -> Tensor:
    """Worst b×b block mean of an SSIM map (N, C, h, w) → (N,).

    Blocks slide by one pixel; a map smaller than the block is one block.
    """
    m = ssim_map.to(torch.float64).mean(dim=1, keepdim=True)
    bh, bw = min(block, m.shape[-2]), min(block, m.shape[-1])
    return F.avg_pool2d(m, (bh, bw), stride=1).amin(dim=(1, 2, 3))


def ssim_below(ssim_map: Tensor, level: float = 0.9) -> Tensor:
    """Fraction of the channel-mean SSIM map below ``level``, per image."""
    m = ssim_map.to(torch.float64).mean(dim=1)
    return (m < level).to(torch.float64).mean(dim=(1, 2))


def diff_mask(x: Tensor, y: Tensor, tolerance: float = 0.0) -> Tensor:
    """(N, H, W) bool: max over channels of |x − y| > tolerance."""
    out = torch.empty((x.shape[0],) + tuple(x.shape[2:]), dtype=torch.bool, device=x.device)
    for rows in row_chunks(x):  # float64 differences, a chunk at a time (integers cannot wrap)
        d = (x[..., rows, :].to(torch.float64) - y[..., rows, :].to(torch.float64)).abs().amax(dim=1)
        torch.gt(d, tolerance, out=out[:, rows])
    return out
