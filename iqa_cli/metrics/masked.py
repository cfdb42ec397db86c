"""Metrics with an ignore mask: masked pixels take no part in any number.

An ignore mask is a bool (H, W) array in the pixel coordinates of the images
(True = ignored), shared by every image and channel of an (N, C, H, W) pair.
Unlike painting the region (which leaves a sharp painted edge inside every
window that reaches it), a masked pixel here is never read by a term that
counts:

- MSE / PSNR: the mean of (x − y)² over the unmasked pixels (and channels).
- changed pixels: masked pixels never count; the ratio divides by the
  number of unmasked pixels.
- SSIM, its map statistics and MS-SSIM: a window counts only if its whole
  K×K support is unmasked ("valid window"); means run over valid windows.
  The valid windows are those where the K×K box sum of the mask is 0.
- MS-SSIM: the mask is carried down with each 2×2 decimation of msssim.m
  (a pixel of the next scale is masked if any pixel of its box, with the
  symmetric end padding, is masked), so no scale reads a masked value.
- TV: a difference term counts only if all pixels it reads are unmasked.

When the mask is a frame of b pixels around the image, the valid terms are
exactly those of the crop ``x[..., b:-b, b:-b]``, so every value equals the
unmasked metric on the crop (to rounding). For MS-SSIM this also needs the
decimation phase kept: b and the crop's sides multiples of 2^(scales−1)
(16 for five scales); for ``downsample="matlab"`` the crop must give the
same f, and f ≤ 2 with b and the crop's sides even (for f ≥ 3 imfilter's
anchor puts a pixel before each box, so the crop's first samples read its
mirrored edge where the framed image reads a masked pixel).

A metric left without any window, pixel or term raises ValueError. Note
that a window of the coarsest MS-SSIM scale spans 11·16 = 176 input pixels,
so on images near that size a small region can leave that scale no window.

Kernels: on the CPU without autograd the valid windows are cut into
rectangles (bands of equal rows, then runs) and the C kernel of the
unmasked metric runs on the image block under each one; otherwise (or for
masks that make many rectangles) the float64 SSIM / cs maps are computed in
full and averaged over the valid windows. Both agree to ~1e-15.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..settings import DECLARED
from . import _cpu
from ._filters import gaussian_window, matlab_box_decimate, matlab_box_decimate_scaled
from .local import diff_mask
from .ms_ssim import WANG_WEIGHTS, _power, check_arguments
from .pixel import psnr_from_mse, row_chunks
from .ssim import (
    check_data_range,
    check_pair,
    lum_cs_maps,
    matlab_downsample_factor,
    ssim,
)

Tensor = torch.Tensor


def as_ignore(ignore, height: int, width: int, device=None) -> Tensor:
    """The ignore mask as a (H, W) bool tensor on ``device``; None means nothing ignored.

    Raises:
        TypeError: not a bool array.
        ValueError: its shape is not (height, width).
    """
    if ignore is None:
        return torch.zeros(height, width, dtype=torch.bool, device=device)
    if isinstance(ignore, np.ndarray):
        if ignore.dtype != np.bool_:
            raise TypeError(f"the ignore mask must be a bool array, got {ignore.dtype}")
        ignore = torch.from_numpy(np.ascontiguousarray(ignore))
    elif not isinstance(ignore, torch.Tensor):
        raise TypeError(f"the ignore mask must be a bool tensor or array, got {type(ignore).__name__}")
    elif ignore.dtype != torch.bool:
        raise TypeError(f"the ignore mask must be a bool tensor, got {ignore.dtype}")
    if tuple(ignore.shape) != (height, width):
        shape = "x".join(str(s) for s in reversed(ignore.shape)) if ignore.dim() == 2 else str(tuple(ignore.shape))
        raise ValueError(f"the ignore mask is {shape} px but the images are {width}x{height} px")
    return ignore.to(device)


def decimate_mask(ignore: Tensor, f: int) -> Tensor:
    """The mask after :func:`~._filters.matlab_box_decimate` by ``f``: a sample
    is masked if any pixel of its f×f box (borders mirrored, as the images
    are) is masked. The box mean of a 0/1 image is 0 exactly when no pixel
    of the box is 1."""
    if f <= 1:
        return ignore
    return matlab_box_decimate(ignore.to(torch.float64)[None], f)[0] > 0


def _any_run(a: Tensor, k: int, dim: int) -> Tensor:
    """``out[i] = any(a[i : i+k])`` along ``dim`` (length n−k+1), by doubling
    spans: ⌈log2 k⌉ ORs of shifted bool views instead of k."""
    span = 1
    while span < k:
        d = min(span, k - span)  # the last step tops the span up to exactly k
        n = a.shape[dim]
        a = a.narrow(dim, 0, n - d) | a.narrow(dim, d, n - d)
        span += d
    return a


def valid_windows(ignore: Tensor, window_size: int = 11) -> Tensor:
    """(H−K+1, W−K+1) bool: the 'valid' window positions whose K×K support
    holds no masked pixel, i.e. where the K×K box filter of the mask is 0
    (taken as an OR over the box, separably)."""
    h, w = ignore.shape
    k = window_size
    if h < k or w < k:
        raise ValueError(f"the image ({w}x{h} px) is smaller than the {k}x{k} window")
    return ~_any_run(_any_run(ignore, k, 0), k, 1)


MAX_RECTANGLES = 256  # more valid-window rectangles than this: the map path (each is one native call)


def valid_rectangles(valid: Tensor, window_size: int) -> list[tuple[int, int, int, int]] | None:
    """The valid windows as disjoint rectangles ``(r0, r1, c0, c1)`` of window
    positions (bands of equal rows, cut into their runs), or None when there
    are more than :data:`MAX_RECTANGLES` or their K−1 margins would read over
    half as much again as the whole image."""
    v = valid.cpu().numpy()
    h, w = v.shape
    starts = np.flatnonzero(np.concatenate(([True], (v[1:] != v[:-1]).any(axis=1))))  # bands of equal rows
    ends = np.append(starts[1:], h)
    rects: list[tuple[int, int, int, int]] = []
    for i, j in zip(starts.tolist(), ends.tolist()):
        edges = np.flatnonzero(np.diff(np.concatenate(([False], v[i], [False])).astype(np.int8)))
        rects.extend((i, j, int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]))
        if len(rects) > MAX_RECTANGLES:
            return None
    r = window_size - 1
    read = sum((r1 - r0 + r) * (c1 - c0 + r) for r0, r1, c0, c1 in rects)
    return rects if read <= 1.5 * (h + r) * (w + r) else None


def _native_means(
    x: Tensor, y: Tensor, scale: float, rects, count: int, window: Tensor, k1: float, k2: float
) -> tuple[Tensor, Tensor]:
    """Masked per-(image, channel) means of the SSIM and cs maps from the C
    kernel, run on the image block under each rectangle of valid windows
    (the rectangle's windows and nothing else)."""
    r = window.numel() - 1
    sum_s = sum_cs = None
    for r0, r1, c0, c1 in rects:
        n = float((r1 - r0) * (c1 - c0))
        ms, mcs, _ = _cpu.mean_ssim_cs(x[..., r0 : r1 + r, c0 : c1 + r], y[..., r0 : r1 + r, c0 : c1 + r], scale, window, k1, k2)
        sum_s = ms * n if sum_s is None else sum_s + ms * n
        sum_cs = mcs * n if sum_cs is None else sum_cs + mcs * n
    return sum_s / float(count), sum_cs / float(count)


def _masked_plane_mean(m: Tensor, valid: Tensor, count: int) -> Tensor:
    """Mean over the valid positions of every (N, C) plane of ``m``, float64 (N, C)."""
    return torch.where(valid, m, torch.zeros((), dtype=m.dtype, device=m.device)).sum(
        dim=(-2, -1), dtype=torch.float64
    ) / float(count)


def _no_window(name: str, window_size: int, where: str = "") -> ValueError:
    return ValueError(f"{name}: no {window_size}x{window_size} window{where} is free of the mask")


def masked_ssim(
    x: Tensor,
    y: Tensor,
    data_range: float,
    ignore,
    *,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    downsample: Literal["none", "matlab"] = "none",
    return_map: bool = False,
) -> tuple[Tensor, int] | tuple[Tensor, int, Tensor]:
    """SSIM per image (Wang et al. 2004) over the windows free of the mask.

    The SSIM map of :func:`~.ssim.ssim` (float64) is averaged per channel
    over the valid windows only, then over channels.
    ``downsample="matlab"`` (``ssim.m``) low-passes and decimates the images
    by f first; the mask is decimated with them (a sample is masked if any
    pixel of its f×f box is), so a valid window reads no masked pixel.

    Returns:
        ``(values (N,), windows_used)`` where ``windows_used`` is the number
        of valid window positions (per channel), and with ``return_map``
        also the (N, C, h, w) SSIM map with NaN at the windows left out.

    Raises:
        ValueError: bad shapes, or no window is free of the mask.
    """
    check_pair(x, y)
    if downsample not in ("none", "matlab"):
        raise ValueError(f"downsample must be 'none' or 'matlab', not {downsample!r}")
    h, w = x.shape[-2:]
    mask = as_ignore(ignore, h, w, x.device)
    if downsample == "matlab":
        mask = decimate_mask(mask, matlab_downsample_factor(h, w))
    valid = valid_windows(mask, window_size)
    used = int(valid.sum())
    if used == 0:
        raise _no_window("ssim", window_size)
    if not return_map and _cpu.usable(x, y):
        rects = valid_rectangles(valid, window_size)
        if rects is not None:  # the C kernel on the blocks under the valid windows
            data_range = check_data_range(data_range)
            f = matlab_downsample_factor(h, w) if downsample == "matlab" else 1
            if f > 1:  # as ssim() decimates for the C kernel
                x, y, data_range = matlab_box_decimate_scaled(x, f, data_range), matlab_box_decimate_scaled(y, f, data_range), 1.0
            window = gaussian_window(window_size, sigma)
            return _native_means(x, y, data_range, rects, used, window, k1, k2)[0].mean(dim=1), used
    _, smap = ssim(
        x, y, data_range, window_size=window_size, sigma=sigma, k1=k1, k2=k2,
        downsample=downsample, return_map=True, precision="double",
    )
    values = _masked_plane_mean(smap, valid, used).mean(dim=1)
    if not return_map:
        return values, used
    smap = smap.to(torch.float64)
    smap.masked_fill_(~valid, float("nan"))
    return values, used, smap


def masked_ms_ssim_and_ssim(
    x: Tensor,
    y: Tensor,
    data_range: float,
    ignore,
    *,
    weights: Sequence[float] = WANG_WEIGHTS,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    negative: Literal["nan", "relu", "simple"] = "nan",
    warn: bool = True,
) -> tuple[Tensor, Tensor, tuple[int, ...]]:
    """Masked MS-SSIM (Wang, Simoncelli & Bovik 2003, ``msssim.m``
    conventions) and, from its first scale, the masked single-scale SSIM.

    At each scale the mean cs (and at the last the mean SSIM) runs over the
    windows free of that scale's mask; the mask goes down with the 2×2
    decimation as any-of-the-box. ``negative`` and ``warn`` as in
    :func:`~.ms_ssim.ms_ssim_and_ssim`.

    Returns:
        ``(ms_ssim (N,), ssim (N,), windows_used)``, ``windows_used`` the
        number of valid windows at each scale, first scale first.

    Raises:
        ValueError: the smaller side is below ``window_size·2^(scales−1)``
            (as msssim.m), or some scale has no window free of the mask.
    """
    data_range, levels = check_arguments(x, y, data_range, weights, window_size)
    h, w = x.shape[-2:]
    mask = as_ignore(ignore, h, w, x.device)
    masks, valids, counts = [], [], []
    for level in range(levels):  # the masks first: fail before any filtering
        valid = valid_windows(mask, window_size)
        used = int(valid.sum())
        if used == 0:
            mh, mw = mask.shape
            raise _no_window("ms_ssim", window_size, f" of scale {level + 1} ({mw}x{mh} px)")
        masks.append(mask)
        valids.append(valid)
        counts.append(used)
        if level < levels - 1:
            mask = decimate_mask(mask, 2)
    window = gaussian_window(window_size, sigma, dtype=torch.float64, device=x.device)
    native = _cpu.usable(x, y)
    xs, ys, scale = (x, y, data_range) if native else (x.to(torch.float64) / data_range, y.to(torch.float64) / data_range, 1.0)
    terms = []
    first = None
    for level in range(levels):
        last = level == levels - 1
        rects = valid_rectangles(valids[level], window_size) if native else None
        if rects is not None:
            mean_s, mean_cs = _native_means(xs, ys, scale, rects, counts[level], window, k1, k2)
        else:
            if scale != 1.0 or xs.dtype != torch.float64:
                xs, ys, scale = xs.to(torch.float64) / scale, ys.to(torch.float64) / scale, 1.0
            lum, cs = lum_cs_maps(xs, ys, window, k1, k2)
            mean_cs = _masked_plane_mean(cs, valids[level], counts[level])
            mean_s = _masked_plane_mean(lum.mul_(cs), valids[level], counts[level]) if level == 0 or last else None
            del lum, cs
        if level == 0:
            first = mean_s.mean(dim=1)
        terms.append(mean_s if last else mean_cs)
        if not last:
            if native and xs.dtype in (torch.uint8, torch.float32, torch.float64):
                xs, ys = _cpu.decimate2(xs, ys, scale)  # float64 on [0, 1], as matlab_box_decimate
            else:
                xs, ys = matlab_box_decimate(xs, 2), matlab_box_decimate(ys, 2)
            scale = 1.0
    stacked = torch.stack(terms, dim=-1)  # (N, C, levels)
    wt = torch.tensor(tuple(weights), dtype=torch.float64, device=stacked.device)
    if warn and negative == "nan" and bool((stacked < 0).any()):
        warnings.warn(
            "MS-SSIM: a scale has negative similarity (anti-correlated content); "
            "the result is NaN as in msssim.m (use negative='relu' or 'simple' to clamp)",
            RuntimeWarning,
            stacklevel=3,
        )
    return _power(stacked, wt, negative).prod(dim=-1).mean(dim=1), first, tuple(counts)


def masked_ms_ssim(
    x: Tensor, y: Tensor, data_range: float, ignore, **kwargs
) -> tuple[Tensor, tuple[int, ...]]:
    """Masked MS-SSIM per image: ``(values (N,), windows used per scale)``;
    see :func:`masked_ms_ssim_and_ssim` for the arguments."""
    values, _, counts = masked_ms_ssim_and_ssim(x, y, data_range, ignore, **kwargs)
    return values, counts


def _channel_mean_and_valid(ssim_map: Tensor, valid) -> tuple[Tensor, Tensor]:
    m = ssim_map.to(torch.float64).mean(dim=1)  # (N, h, w)
    if valid is None:  # the NaN of masked_ssim's map mark the windows left out
        valid = ~torch.isnan(m).any(dim=0)
    else:
        valid = as_ignore(valid, m.shape[-2], m.shape[-1], m.device)
    return m, valid


def masked_ssim_min(ssim_map: Tensor, valid=None, block: int = DECLARED["block"].default, *, min_valid: float = 1.0) -> Tensor:
    """Worst b×b block mean of an SSIM map (N, C, h, w) over valid windows → (N,).

    The map is averaged over channels; blocks slide by one window. A block
    is used when at least ``min_valid`` of its windows are valid (1.0, the
    default: wholly valid blocks, which keeps the border-frame crop identity;
    a small positive value admits blocks partly covered, averaged over their
    valid windows) and never without a valid window. As in the unmasked
    statistic, a block larger than the valid area (its bounding box) is
    shrunk to it. ``valid`` is the (h, w) bool map of valid windows; None
    takes the windows where ``ssim_map`` is not NaN (:func:`masked_ssim`'s map).

    Raises:
        ValueError: no block qualifies.
    """
    if not 0.0 <= min_valid <= 1.0:
        raise ValueError(f"min_valid must lie in [0, 1], got {min_valid!r}")
    m, valid = _channel_mean_and_valid(ssim_map, valid)
    rows = torch.nonzero(valid.any(dim=1)).flatten()
    cols = torch.nonzero(valid.any(dim=0)).flatten()
    if rows.numel() == 0:
        raise ValueError("ssim_min: no window of the SSIM map is free of the mask")
    bh = min(block, int(rows[-1] - rows[0]) + 1)
    bw = min(block, int(cols[-1] - cols[0]) + 1)
    vf = valid.to(torch.float64)[None, None]
    sums = F.avg_pool2d(torch.where(valid, m, torch.zeros((), dtype=m.dtype)).unsqueeze(1), (bh, bw), stride=1)
    share = F.avg_pool2d(vf, (bh, bw), stride=1)  # valid fraction per block, exactly 1.0 for a whole one
    need = max(1, math.ceil(min_valid * bh * bw - 1e-9))
    use = torch.round(share * (bh * bw)) >= need
    if not bool(use.any()):
        raise ValueError(f"ssim_min: no {bh}x{bw} block of the SSIM map has enough windows free of the mask")
    means = sums / share.clamp_min(1e-300)
    return torch.where(use, means, torch.full((), math.inf, dtype=torch.float64)).amin(dim=(1, 2, 3))


def masked_ssim_below(ssim_map: Tensor, valid=None, level: float = 0.9) -> Tensor:
    """Fraction of the valid windows of the channel-mean SSIM map below
    ``level``, per image (N,); ``valid`` as in :func:`masked_ssim_min`."""
    m, valid = _channel_mean_and_valid(ssim_map, valid)
    count = int(valid.sum())
    if count == 0:
        raise ValueError("ssim_below: no window of the SSIM map is free of the mask")
    return ((m < level) & valid).sum(dim=(1, 2)).to(torch.float64) / float(count)


def _pixel_mask(x: Tensor, y: Tensor, ignore) -> tuple[Tensor, int]:
    check_pair(x, y)
    mask = as_ignore(ignore, x.shape[-2], x.shape[-1], x.device)
    kept = mask.numel() - int(mask.sum())
    return mask, kept


def masked_mse(x: Tensor, y: Tensor, ignore) -> Tensor:
    """Mean squared error per image (N,) over the unmasked pixels and every
    channel, in the data's units, accumulated in float64 row chunk by chunk.

    Raises:
        ValueError: every pixel is masked.
    """
    mask, kept = _pixel_mask(x, y, ignore)
    if kept == 0:
        raise ValueError("mse: every pixel is masked")
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    zero = torch.zeros((), dtype=torch.float64, device=x.device)
    for rows in row_chunks(x):  # float64 differences (integers cannot wrap)
        d = x[..., rows, :].to(torch.float64) - y[..., rows, :].to(torch.float64)
        total += torch.where(mask[rows], zero, d * d).sum(dim=(1, 2, 3))
    return total / float(kept * x.shape[1])


def masked_psnr(x: Tensor, y: Tensor, data_range: float, ignore) -> Tensor:
    """PSNR per image in dB, 10·log10(L² / masked MSE); +inf where the
    unmasked pixels are identical."""
    data_range = check_data_range(data_range)
    return psnr_from_mse(masked_mse(x, y, ignore), data_range)


def masked_diff_mask(x: Tensor, y: Tensor, ignore, tolerance: float = 0.0) -> Tensor:
    """(N, H, W) bool: unmasked pixels whose largest channel difference
    exceeds ``tolerance`` (masked pixels are always False)."""
    mask, _ = _pixel_mask(x, y, ignore)
    return diff_mask(x, y, tolerance) & ~mask


def masked_diff_pixels(x: Tensor, y: Tensor, ignore, tolerance: float = 0.0) -> Tensor:
    """Number of unmasked pixels whose largest channel difference exceeds ``tolerance``, (N,)."""
    return masked_diff_mask(x, y, ignore, tolerance).sum(dim=(1, 2))


def masked_diff_ratio(x: Tensor, y: Tensor, ignore, tolerance: float = 0.0) -> Tensor:
    """:func:`masked_diff_pixels` divided by the number of unmasked pixels, float64 (N,).

    Raises:
        ValueError: every pixel is masked.
    """
    mask, kept = _pixel_mask(x, y, ignore)
    if kept == 0:
        raise ValueError("diff_ratio: every pixel is masked")
    return (diff_mask(x, y, tolerance) & ~mask).sum(dim=(1, 2)).to(torch.float64) / float(kept)


def masked_tv(
    x: Tensor,
    ignore,
    norm: Literal["l1", "isotropic", "l2_squared"] = "l1",
    reduction: Literal["sum", "mean", "directional_mean"] = "sum",
    eps: float = 0.0,
    *,
    data_range: float | None = None,
) -> Tensor:
    """Total variation per image (N,) over the difference terms whose pixels
    are all unmasked, float64; the conventions of :func:`~.tv.total_variation`
    (forward differences, summed over channels; ``"mean"`` divides by the
    number of terms used, ``"directional_mean"`` each direction by its own).
    A vertical term reads (i, j) and (i+1, j), a horizontal one (i, j) and
    (i, j+1), an isotropic one all three.

    Raises:
        ValueError: no term has all its pixels unmasked.
    """
    if x.dim() != 4:
        raise ValueError(f"input must be an (N, C, H, W) tensor, got {tuple(x.shape)}")
    if norm not in ("l1", "isotropic", "l2_squared"):
        raise ValueError(f"norm must be 'l1', 'isotropic' or 'l2_squared', not {norm!r}")
    if reduction not in ("sum", "mean", "directional_mean"):
        raise ValueError(f"reduction must be 'sum', 'mean' or 'directional_mean', not {reduction!r}")
    if norm == "isotropic" and reduction == "directional_mean":
        raise ValueError("reduction 'directional_mean' is not defined for isotropic TV")
    n, c, h, w = x.shape
    if h < 2 or w < 2:
        raise ValueError(f"total variation needs at least 2x2 pixels, got {w}x{h}")
    keep = ~as_ignore(ignore, h, w, x.device)
    vh = keep[1:, :] & keep[:-1, :]  # (H−1, W)
    vw = keep[:, 1:] & keep[:, :-1]  # (H, W−1)
    vi = vh[:, :-1] & vw[:-1, :]  # (H−1, W−1)
    zero = torch.zeros((), dtype=torch.float64, device=x.device)
    th = torch.zeros(n, dtype=torch.float64, device=x.device)
    tw = torch.zeros_like(th)
    for rows in row_chunks(x):
        r0, r1 = rows.start, rows.stop
        stop = min(r1 + 1, h)  # one row of overlap for the vertical differences
        part = x[..., r0:stop, :].to(torch.float64)
        if data_range is not None:
            part = part / data_range
        dh = part[:, :, 1:, :] - part[:, :, :-1, :]  # rows r0 .. stop−2
        dw = part[:, :, : r1 - r0, 1:] - part[:, :, : r1 - r0, :-1]
        if norm == "isotropic":
            s = dh[..., :-1] ** 2 + dw[:, :, : dh.shape[2], :] ** 2
            th += torch.where(vi[r0 : stop - 1], torch.sqrt(s + eps), zero).sum(dim=(1, 2, 3))
            continue
        f = torch.abs if norm == "l1" else torch.square
        th += torch.where(vh[r0 : stop - 1], f(dh), zero).sum(dim=(1, 2, 3))
        tw += torch.where(vw[r0:r1], f(dw), zero).sum(dim=(1, 2, 3))
    if norm == "isotropic":
        count = c * int(vi.sum())
        if count == 0:
            raise ValueError("tv: no difference term has all its pixels unmasked")
        return th / count if reduction == "mean" else th
    count_h, count_w = c * int(vh.sum()), c * int(vw.sum())
    if count_h + count_w == 0:
        raise ValueError("tv: no difference term has all its pixels unmasked")
    if reduction == "sum":
        return th + tw
    if reduction == "mean":
        return (th + tw) / (count_h + count_w)
    if count_h == 0 or count_w == 0:
        raise ValueError("tv: no difference term in one direction has both pixels unmasked")
    return th / count_h + tw / count_w
