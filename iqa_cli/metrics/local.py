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

from .pixel import row_chunks

Tensor = torch.Tensor


def ssim_min(ssim_map: Tensor, block: int = 16) -> Tensor:
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


# --------------------------------------------------------------------------- scoring adapters


def changed(job) -> Tensor:
    """The (N, H, W) changed-pixel mask of a job, computed once (image units,
    after alpha handling, before the colour conversion)."""
    if "diff_mask" not in job.cache:
        x0 = job.x0
        if job.identical:
            job.cache["diff_mask"] = torch.zeros((x0.shape[0],) + tuple(x0.shape[2:]), dtype=torch.bool)
        elif job.ignore is not None:
            from .masked import masked_diff_mask

            job.cache["diff_mask"] = masked_diff_mask(x0, job.y0, job.ignore, job.options.get("pixel_tol", 0.0))
        else:
            job.cache["diff_mask"] = diff_mask(x0, job.y0, job.options.get("pixel_tol", 0.0))
    return job.cache["diff_mask"]


def score_diff_pixels(job) -> dict[str, Tensor]:
    return {"diff_pixels": changed(job).sum(dim=(1, 2))}


def score_diff_ratio(job) -> dict[str, Tensor]:
    mask = changed(job)
    pixels = float(mask.shape[-2] * mask.shape[-1])
    if job.ignore is not None:  # the ratio of the pixels that are compared
        pixels -= float(job.ignore.sum())
        if pixels <= 0:
            raise ValueError("every pixel is masked")
    return {"diff_ratio": mask.sum(dim=(1, 2)).to(torch.float64) / pixels}


def score_ssim_min(job) -> dict[str, Tensor]:
    from .ms_ssim import ssim_and_map

    smap = ssim_and_map(job)[1]
    if job.ignore is not None:
        from .masked import masked_ssim_min

        return {"ssim_min": masked_ssim_min(smap, None, job.options.get("block", 16))}
    return {"ssim_min": ssim_min(smap, job.options.get("block", 16))}


def score_ssim_below(job) -> dict[str, Tensor]:
    from .ms_ssim import ssim_and_map

    smap = ssim_and_map(job)[1]
    if job.ignore is not None:
        from .masked import masked_ssim_below

        return {"ssim_below": masked_ssim_below(smap, None, job.options.get("below", 0.9))}
    return {"ssim_below": ssim_below(smap, job.options.get("below", 0.9))}
