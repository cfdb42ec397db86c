"""SSIM: the structural similarity index of Wang, Bovik, Sheikh & Simoncelli (2004).

Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment:
from error visibility to structural similarity", IEEE TIP 13(4), 2004.

For two images x, y with data range L and a normalised window w::

    μx = w ⋆ x,  μy = w ⋆ y
    σx² = w ⋆ x² − μx²,  σy² = w ⋆ y² − μy²,  σxy = w ⋆ (x·y) − μx·μy   (population moments)
    C1 = (K1·L)²,  C2 = (K2·L)²
    SSIM map = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))
    cs map   = (2σxy + C2) / (σx² + σy² + C2)
    SSIM     = mean of the map over the 'valid' region (no padding)

Defaults are the conventions of Wang's reference ``ssim_index.m``: an 11×11
Gaussian window with σ = 1.5, K = (0.01, 0.03), the 'valid' region of size
(H−10)×(W−10), no clamping of the moments and no downsampling. Colour images
are scored per channel and the channel means are averaged. ``downsample="matlab"``
gives Wang's ``ssim.m`` (2009), which first low-passes and decimates by
``f = max(1, round(min(H, W)/256))`` (MATLAB rounding, half away from zero).

Kernels: on the CPU, when no gradient is needed, the C extension of
``_native.c`` (driven by :mod:`._cpu`) computes the terms below in float64
straight from the stored samples (uint8, uint16, float32, float64); the torch kernels
of this module are the path for autograd, CUDA and ``precision="single"``,
and the fallback without the extension. Both agree to ~1e-15.

Numerics: the filtered moments are computed on data scaled to [0, 1], strip
by strip; in float32 each 32×32 output tile is centred on its own means,
which removes most of the cancellation in ``E[x²] − μ²``. On the CPU the
default computes in float64 (≤ 5e-11 from Wang's Octave values); float32
(``precision="single"``, the default for float32 tensors on CUDA) stayed
within 2.1e-7 of float64 on the spec's pairs and harder synthetic cases
(measured, not a worst-case bound).
"""

from __future__ import annotations

from typing import Literal

import torch

from . import _cpu
from ._filters import (
    _band,
    col_tiles_into,
    filter_valid,
    gaussian_taps,
    gaussian_window,
    matlab_box_decimate,
    matlab_round,
    row_block,
    parallel_items,
    rows_into,
    run_parallel,
    tile_width,
)

Tensor = torch.Tensor
Precision = Literal["auto", "single", "double"]


def check_pair(x: Tensor, y: Tensor) -> None:
    """Validate two (N, C, H, W) tensors of the same shape."""
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("inputs must be torch tensors")
    if x.dim() != 4 or y.dim() != 4:
        raise ValueError(f"inputs must be (N, C, H, W) tensors, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape != y.shape:
        raise ValueError(f"input shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.device != y.device:
        raise ValueError(f"inputs are on different devices: {x.device} vs {y.device}")


def channels_last_hint(x: Tensor) -> str | None:
    """The one-line layout hint for an (N, C, H, W) argument that looks like an
    (N, H, W, C) image (last dim 1-4, dim 1 larger: numpy and PIL images are
    channels-last), else None. Only asked when the images are too small."""
    if 1 <= x.shape[-1] <= 4 and x.shape[1] > x.shape[-1]:
        return (f"input of shape {tuple(x.shape)} looks channels-last (N, H, W, C); iqa takes (N, C, H, W): "
                f"pass x.permute(0, 3, 1, 2)")
    return None


def check_size(x: Tensor, need: int, what: str) -> None:
    """A one-line ValueError when the images are below ``need`` px a side
    (``what`` names the requirement), or the layout hint when it applies."""
    h, w = x.shape[-2:]
    if h < need or w < need:
        raise ValueError(channels_last_hint(x) or f"image of {w}x{h} px is smaller than {what}")


def compute_dtype(x: Tensor, precision: str) -> torch.dtype:
    """The dtype the statistics are computed in.

    ``"auto"``: float64 on the CPU (any input) and for float64 input anywhere;
    float32 for lower-precision input on an accelerator, where float64 is slow.
    ``"single"`` / ``"double"`` force float32 / float64. Half precision is never
    used for the statistics (it cannot hold them).
    """
    if precision == "double":
        return torch.float64
    if precision == "single":
        return torch.float32
    if precision != "auto":
        raise ValueError(f"precision must be 'auto', 'single' or 'double', not {precision!r}")
    if x.dtype == torch.float64 or x.device.type == "cpu":
        return torch.float64
    return torch.float32


def check_data_range(data_range: float) -> float:
    try:
        value = float(data_range)
    except (TypeError, ValueError):
        raise TypeError(f"data_range must be a number, got {data_range!r}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")
    return value


def centre(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(x − c, c)`` with c the mean of each (image, channel) plane.

    Subtracting a constant from an image leaves every variance and covariance
    of every window unchanged (and covariances even when x and y are shifted
    by different constants); it only shrinks the magnitudes that cancel in
    ``E[x²] − μ²``. The constant is added back for the luminance term.
    """
    with torch.no_grad():
        c = x.mean(dim=(-2, -1), keepdim=True)
    return x - c, c


def lum_cs_maps(
    x: Tensor,
    y: Tensor,
    window: Tensor,
    k1: float,
    k2: float,
) -> tuple[Tensor, Tensor]:
    """Luminance and contrast-structure maps of two [0, 1]-scaled images
    (so C1 = k1², C2 = k2²); the SSIM map is their product.

    ``x``/``y`` are (N, C, H, W) in the compute dtype. Each plane is centred
    first (:func:`centre`). Returns two (N, C, H−K+1, W−K+1) maps. Without
    autograd the maps come from the strip kernel of :func:`_strip_deficits`.
    """
    if not (torch.is_grad_enabled() and (x.requires_grad or y.requires_grad or window.requires_grad)):
        k = window.numel()
        if x.shape[-2] < k or x.shape[-1] < k:
            raise ValueError(f"image of {x.shape[-1]}x{x.shape[-2]} px is smaller than the {k}x{k} window")
        return _lum_cs_maps_nograd(x, y, window, k1, k2)
    c = x.shape[1]
    x, cx = centre(x)
    y, cy = centre(y)
    moments = filter_valid(torch.cat([x, y, x * x + y * y, x * y], dim=1), window)
    mu_x, mu_y, e_sq, e_xy = moments.split(c, dim=1)
    c1 = k1 * k1
    c2 = k2 * k2
    sigma_sum = e_sq - mu_x * mu_x - mu_y * mu_y  # σx² + σy²
    sigma_xy = e_xy - mu_x * mu_y
    cs = (2 * sigma_xy + c2) / (sigma_sum + c2)
    mx = mu_x + cx
    my = mu_y + cy
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    return lum, cs


def ssim_maps(x: Tensor, y: Tensor, window: Tensor, k1: float, k2: float) -> tuple[Tensor, Tensor]:
    """(SSIM map, cs map) of two [0, 1]-scaled images; see :func:`lum_cs_maps`."""
    lum, cs = lum_cs_maps(x, y, window, k1, k2)
    return lum * cs, cs


def mean_ssim_cs(
    x: Tensor, y: Tensor, window: Tensor, k1: float, k2: float, *, keep_map: bool = False
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Per-(image, channel) means of the SSIM and cs maps, computed strip by strip.

    Returns ``(mean_ssim (N, C), mean_cs (N, C), ssim_map or None)``; means are float64.
    Without autograd this runs :func:`_mean_ssim_cs_nograd`; with autograd
    (the losses) it sums :func:`ssim_maps` over :func:`strips`.
    """
    k = window.numel()
    h, w = x.shape[-2:]
    if h < k or w < k:
        raise ValueError(f"image of {w}x{h} px is smaller than the {k}x{k} SSIM window")
    if not (torch.is_grad_enabled() and (x.requires_grad or y.requires_grad or window.requires_grad)):
        return _mean_ssim_cs_nograd(x, y, window, k1, k2, keep_map)
    s_total = cs_total = None
    maps = []
    for rows in strips(h, k, x.shape[1] * w):
        smap, cs = ssim_maps(x[..., rows, :], y[..., rows, :], window, k1, k2)
        s_part = smap.sum(dim=(-2, -1), dtype=torch.float64)
        c_part = cs.sum(dim=(-2, -1), dtype=torch.float64)
        s_total = s_part if s_total is None else s_total + s_part
        cs_total = c_part if cs_total is None else cs_total + c_part
        if keep_map:
            maps.append(smap)
    count = (h - k + 1) * (w - k + 1)
    return s_total / count, cs_total / count, (torch.cat(maps, dim=-2) if keep_map else None)


STRIP_ELEMENTS = 1 << 17  # output elements per channel-row block that stay in cache (autograd path)
NOGRAD_STRIP_BYTES = 1 << 22  # bytes of the four moment planes per strip (no-grad path; 4 MiB measured best for float32 and float64)


def strips(height: int, window_size: int, row_elements: int) -> list[slice]:
    """Input row ranges of horizontal strips that tile the valid output.

    Each strip yields ``s`` output rows from ``s + K − 1`` input rows. Working
    strip by strip keeps the moment maps in cache (4–5x faster on large
    images than one pass over the whole image), bounds peak memory, and lets
    each strip be centred on its own means, which improves float32 accuracy.
    """
    out_rows = height - window_size + 1
    s = max(8, min(out_rows, STRIP_ELEMENTS // max(1, row_elements)))
    return [slice(i, min(i + s, out_rows) + window_size - 1) for i in range(0, out_rows, s)]


CENTRE_TILE = 32  # float32: output columns per centring tile (see _strip_deficits)


def _strip_deficits(x: Tensor, y: Tensor, window: Tensor, k1: float, k2: float, consume) -> None:
    """No-grad SSIM terms strip by strip (used by :func:`mean_ssim_cs` and
    :func:`lum_cs_maps` when no gradient is needed).

    With u = x + y and v = x − y (each centred, see below), the four filtered
    planes are a = w⋆u, d = w⋆v, p = w⋆u² + 2C2 and q = w⋆v². Then
    s' = p − a² = σx² + σy² + 2σxy + 2C2 and t = q − d² = σx² + σy² − 2σxy,
    and, with A = μx + μy and D = μx − μy::

        cs  = (2σxy + C2)/(σx² + σy² + C2)     = 1 − 2·dc,  dc = t/(s' + t)
        lum = (2μxμy + C1)/(μx² + μy² + C1)    = 1 − 2·dl,  dl = D²/(A² + D² + 2C1)

    For similar images t and D are small and carry only their own rounding
    error, unlike E[x²] − μ² where the whole signal cancels. Subtracting a
    constant from u (or v) over every window that sees it changes no variance;
    the constant only removes magnitude that would cancel.

    * float64: each (strip, plane) is centred on its mean; the moment planes
      of a group of planes live in one (4·planes, rows, W) buffer, the rows are
      filtered with band GEMMs (:func:`~._filters.rows_into`) and the columns
      with one batched GEMM over overlapping column tiles
      (:func:`~._filters.col_tiles_into`). Results move by ~1e-16 from the
      E[x²] − μ² form (maps by up to ~4e-13, the size of float64's own
      cancellation error in either form).
    * float32: the strip is cut into overlapping tiles of
      :data:`CENTRE_TILE` output columns (+K−1 input columns), copied into a
      (4·planes, rows, tiles, tile) buffer, and every tile is centred on the
      mean of its middle row, so a window's values are centred on a nearby
      level (flat regions become ~0 and contribute no rounding error); the
      column pass is then one GEMM with the tile's band matrix. The tile
      overlaps copy ~30% more moment data, which measured 3-6% slower than
      one centre per strip, and keep float32 within ~1e-7 of float64 on the
      spec pairs (one centre per strip: up to ~1e-6).

    Threads: on the CPU the strips are shared out among
    ``torch.get_num_threads()`` worker threads, each running torch
    single-threaded on its own buffers (:func:`~._filters.run_parallel`).
    Strips are independent and their sums are added in a fixed order, so
    results do not depend on the number of threads.

    Calls ``consume(p0, gp, i0, s, o, dup)`` once per strip, possibly from a
    worker thread: planes ``p0 … p0+gp−1`` of ``x.reshape(-1, H, W)``, output
    rows ``i0 … i0+s−1``, and ``o``, a (4, gp, s, tiles, bw) view with dl in
    ``o[1]`` and dc in ``o[3]`` (``o[0]`` and ``o[2]`` are free scratch). Tile
    j < Wo // bw holds output columns j·bw … j·bw+bw−1; a last tile, aligned
    to the right edge, repeats its first ``dup`` columns from the tile before.
    ``o`` is overwritten by the worker's next strip.
    """
    if x.dtype == torch.float64:
        items, make = _deficits_strips(x, y, window, k1, k2)
    else:
        items, make = _deficits_tiles(x, y, window, k1, k2)

    def make_process():
        compute = make()
        return lambda item: consume(*compute(item))

    run_parallel(items, make_process, x.device)


def _finish_deficits(a: Tensor, d: Tensor, sp: Tensor, tq: Tensor, ku: Tensor, kv: Tensor, c1x2: float) -> None:
    """In place: filtered planes (a, d, p, q) → (scratch, dl, scratch, dc); see _strip_deficits."""
    sp.addcmul_(a, a, value=-1)  # s' = σx² + σy² + 2σxy + 2C2
    tq.addcmul_(d, d, value=-1)  # t = σx² + σy² − 2σxy
    sp.add_(tq)
    tq.div_(sp)  # dc
    a.add_(ku)  # A = μx + μy
    d.add_(kv)  # D = μx − μy
    d.mul_(d)
    torch.addcmul(d, a, a, out=a)
    a.add_(c1x2)
    d.div_(a)  # dl


def _plane_layout(x: Tensor, y: Tensor, window: Tensor):
    """(K, K−1, valid rows, valid columns, planes, x and y as (planes, H, W))
    of an (N, C, H, W) pair: the shared set-up of the two strip layouts."""
    n, c, h, w = x.shape
    k = window.numel()
    planes = n * c
    return k, k - 1, h - k + 1, w - k + 1, planes, x.reshape(planes, h, w), y.reshape(planes, h, w)


def _deficits_strips(x: Tensor, y: Tensor, window: Tensor, k1: float, k2: float):
    """float64 layout of :func:`_strip_deficits`: one centre per (strip, plane).

    Returns ``(items, make)``: the strips, and a factory of ``compute(item)``
    functions, each with its own buffers."""
    k, r, ho, wo, planes, x3, y3 = _plane_layout(x, y, window)
    w = x.shape[-1]
    bw = min(tile_width(x.dtype, k), wo)
    n_tiles = -(-wo // bw)
    rb = row_block(k)
    s_min = min(ho, 2 * rb)
    budget = NOGRAD_STRIP_BYTES // x.element_size()
    g = max(1, min(planes, budget // (4 * w * s_min)))
    s_max = min(ho, max(s_min, budget // (4 * g * w)))
    groups = -(-planes // g)
    if groups < parallel_items(x.device):  # at least one strip per thread, strips of ≥ 2 row blocks
        s_max = min(s_max, max(s_min, -(-ho // -(-parallel_items(x.device) // groups))))
    if s_max < ho:
        s_max = max(rb, s_max // rb * rb)
    items = [(p0, min(g, planes - p0), i0, min(s_max, ho - i0)) for p0 in range(0, planes, g) for i0 in range(0, ho, s_max)]
    c1x2 = 2.0 * k1 * k1

    def make():
        p_buf = x.new_empty(4 * g * (s_max + r) * w)
        r_buf = x.new_empty(4 * g * s_max * w)
        o_buf = x.new_empty(n_tiles * 4 * g * s_max * bw)
        c2 = torch.tensor(2.0 * k2 * k2, dtype=x.dtype, device=x.device)

        def compute(item):
            p0, gp, i0, s = item
            rows = s + r
            xs = x3[p0 : p0 + gp, i0 : i0 + rows]
            ys = y3[p0 : p0 + gp, i0 : i0 + rows]
            pl = p_buf[: 4 * gp * rows * w].view(4 * gp, rows, w)
            pu, pv, pp, pq = pl.split(gp)
            kx = xs.mean(dim=(-2, -1), keepdim=True)
            ky = ys.mean(dim=(-2, -1), keepdim=True)
            ku, kv = kx + ky, kx - ky
            torch.add(xs, ys, out=pu)
            pu.sub_(ku)
            torch.sub(xs, ys, out=pv)
            pv.sub_(kv)
            torch.addcmul(c2, pu, pu, out=pp)
            torch.mul(pv, pv, out=pq)
            rw = r_buf[: 4 * gp * s * w].view(4 * gp, s, w)
            rows_into(rw, pl, window)
            tiles = o_buf[: n_tiles * 4 * gp * s * bw].view(n_tiles, 4 * gp * s, bw)
            dup = col_tiles_into(tiles, rw.view(4 * gp * s, w), window)
            o = tiles.view(n_tiles, 4, gp, s, bw).permute(1, 2, 3, 0, 4)
            a, d, sp, tq = o.unbind(0)
            _finish_deficits(a, d, sp, tq, ku.view(gp, 1, 1, 1), kv.view(gp, 1, 1, 1), c1x2)
            return p0, gp, i0, s, o, dup

        return compute

    return items, make


def _deficits_tiles(x: Tensor, y: Tensor, window: Tensor, k1: float, k2: float):
    """float32 layout of :func:`_strip_deficits`: square centring tiles.

    A strip holds ``nv`` rows of tiles, each tile CENTRE_TILE output rows by
    CENTRE_TILE output columns, copied with its K−1 overlap into a
    (4·planes·nv, CENTRE_TILE+K−1, tiles·(CENTRE_TILE+K−1)) buffer and
    centred on the mean of its middle row. The row pass is one band GEMM per
    row block over all of them, the column pass one batched GEMM of two
    half-tiles (a narrower band runs faster). Returns ``(items, make)`` as
    :func:`_deficits_strips`.
    """
    k, r, ho, wo, planes, x3, y3 = _plane_layout(x, y, window)
    w = x.shape[-1]
    if x3.stride(-1) != 1:
        x3 = x3.contiguous()
    if y3.stride(-1) != 1:
        y3 = y3.contiguous()
    bw = min(CENTRE_TILE, wo)
    n_tiles = -(-wo // bw)
    full = wo // bw
    tw = bw + r
    th = min(CENTRE_TILE, ho)  # output rows per tile
    row_len = n_tiles * tw
    budget = NOGRAD_STRIP_BYTES // x.element_size()
    g = max(1, min(planes, budget // (4 * row_len * (th + r))))
    nv_max = max(1, min(ho // th, budget // (4 * g * row_len * (th + r))))
    groups = -(-planes // g)
    if groups < parallel_items(x.device):  # at least one strip per thread where there are enough tile rows
        nv_max = max(1, min(nv_max, -(-(ho // th) // -(-parallel_items(x.device) // groups))))
    runs = []  # (first output row, tile rows, output rows per tile): full tiles, then the remainder
    i = 0
    while i < ho:
        if ho - i >= th:
            nv = min(nv_max, (ho - i) // th)
            runs.append((i, nv, th))
            i += nv * th
        else:
            runs.append((i, 1, ho - i))
            i = ho
    items = [(p0, min(g, planes - p0), i0, nv, t_h) for p0 in range(0, planes, g) for i0, nv, t_h in runs]
    band_t = _band(bw, window).t()
    half = bw // 2
    half_t = _band(half, window).t().expand(2, half + r, half) if bw % 2 == 0 and bw >= 16 else None
    c1x2 = 2.0 * k1 * k1

    def make():
        p_buf = x.new_empty(4 * g * nv_max * (th + r) * row_len)
        r_buf = x.new_empty(4 * g * nv_max * th * row_len)
        o_buf = x.new_empty(4 * g * nv_max * th * n_tiles * bw)
        c2 = torch.tensor(2.0 * k2 * k2, dtype=x.dtype, device=x.device)

        def compute(item):
            p0, gp, i0, nv, t_h = item
            rows = t_h + r
            b = 4 * gp * nv  # batch of (plane kind, plane, tile row)
            pt = p_buf[: b * rows * row_len].view(4, gp, nv, rows, n_tiles, tw)
            pu, pv, pp, pq = pt.unbind(0)
            xs, ys = x3[p0 : p0 + gp], y3[p0 : p0 + gp]
            base = i0 * x3.stride(1)
            if full:
                shape = (gp, nv, rows, full, tw)
                vx = xs.as_strided(shape, (x3.stride(0), t_h * w, w, bw, 1), xs.storage_offset() + base)
                vy = ys.as_strided(shape, (y3.stride(0), t_h * w, w, bw, 1), ys.storage_offset() + base)
                torch.add(vx, vy, out=pu[..., :full, :])
                torch.sub(vx, vy, out=pv[..., :full, :])
            if full < n_tiles:
                shape = (gp, nv, rows, tw)
                off = base + w - tw
                lx = xs.as_strided(shape, (x3.stride(0), t_h * w, w, 1), xs.storage_offset() + off)
                ly = ys.as_strided(shape, (y3.stride(0), t_h * w, w, 1), ys.storage_offset() + off)
                torch.add(lx, ly, out=pu[..., full, :])
                torch.sub(lx, ly, out=pv[..., full, :])
            ku = pu[:, :, rows // 2].mean(dim=-1).view(gp, nv, 1, n_tiles, 1)
            kv = pv[:, :, rows // 2].mean(dim=-1).view(gp, nv, 1, n_tiles, 1)
            pu.sub_(ku)
            pv.sub_(kv)
            torch.addcmul(c2, pu, pu, out=pp)
            torch.mul(pv, pv, out=pq)
            rw = r_buf[: b * t_h * row_len].view(b, t_h, row_len)
            rows_into(rw, pt.view(b, rows, row_len), window)
            m = b * t_h * n_tiles
            o6 = o_buf[: m * bw].view(4, gp, nv, t_h, n_tiles, bw)
            if half_t is not None:
                src = rw.as_strided((2, m, half + r), (half, tw, 1))
                torch.bmm(src, half_t, out=o6.view(m, bw).as_strided((2, m, half), (half, bw, 1)))
            else:
                torch.mm(rw.view(m, tw), band_t, out=o6.view(m, bw))
            a, d, sp, tq = o6.unbind(0)
            _finish_deficits(a, d, sp, tq, ku, kv, c1x2)
            return p0, gp, i0, nv * t_h, o6.view(4, gp, nv * t_h, n_tiles, bw), n_tiles * bw - wo

        return compute

    return items, make


def _tiles_to_map(dst: Tensor, src: Tensor, dup: int, factor: Tensor | None = None) -> None:
    """Write a (gp, s, tiles, bw) tile view (times ``factor``, same layout, if
    given) into image rows ``dst`` (gp, s, Wo)."""
    n_tiles, bw = src.shape[-2:]
    full = dst.shape[-1] // bw
    parts = []
    if full:
        parts.append((dst[..., : full * bw].unflatten(-1, (full, bw)), (slice(None), slice(None), slice(0, full))))
    if full < n_tiles:
        parts.append((dst[..., full * bw :], (slice(None), slice(None), full, slice(dup, None))))
    for out, idx in parts:
        if factor is None:
            out.copy_(src[idx])
        else:
            torch.mul(src[idx], factor[idx], out=out)


def _mean_ssim_cs_nograd(
    x: Tensor, y: Tensor, window: Tensor, k1: float, k2: float, keep_map: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    """:func:`mean_ssim_cs` without autograd, from :func:`_strip_deficits`:
    the strip sums are taken of dl, dc and dl·dc (ssim = (1 − 2dl)(1 − 2dc))."""
    n, c, h, w = x.shape
    k = window.numel()
    ho, wo = h - k + 1, w - k + 1
    smap = x.new_empty(n * c, ho, wo) if keep_map else None
    one = torch.ones((), dtype=x.dtype, device=x.device)
    parts: dict[tuple[int, int], tuple[int, Tensor]] = {}  # (first plane, first row) -> (planes, sums (3, planes))

    def consume(p0: int, gp: int, i0: int, s: int, o: Tensor, dup: int) -> None:
        a, d, sp, tq = o.unbind(0)
        if smap is not None:  # ssim = (1 − 2dl)(1 − 2dc), written straight into the map
            torch.add(one, d, alpha=-2.0, out=a)
            torch.add(one, tq, alpha=-2.0, out=sp)
            _tiles_to_map(smap[p0 : p0 + gp, i0 : i0 + s], a, dup, sp)
        torch.mul(d, tq, out=sp)
        if dup:
            o[1:, :, :, -1, :dup] = 0
        terms = o[1:]  # (3, gp, s, tiles, bw): dl, dl·dc, dc
        if x.dtype == torch.float64:
            part = terms.sum(dim=(2, 3, 4))
        else:  # float32 within each tile row, float64 above
            part = terms.sum(dim=-1).sum(dim=(2, 3), dtype=torch.float64)
        parts[(p0, i0)] = (gp, part)

    _strip_deficits(x, y, window, k1, k2, consume)
    sums = torch.zeros(3, n * c, dtype=torch.float64, device=x.device)  # Σdl, Σ dl·dc, Σdc
    for (p0, _), (gp, part) in sorted(parts.items()):  # a fixed order: independent of threads
        sums[:, p0 : p0 + gp] += part
    count = float(ho * wo)
    dl, dldc, dc = sums.unbind(0)
    mean_cs = (count - 2.0 * dc) / count
    mean_s = (count - 2.0 * dl - 2.0 * dc + 4.0 * dldc) / count
    return mean_s.view(n, c), mean_cs.view(n, c), (smap.view(n, c, ho, wo) if smap is not None else None)


def _lum_cs_maps_nograd(x: Tensor, y: Tensor, window: Tensor, k1: float, k2: float) -> tuple[Tensor, Tensor]:
    """:func:`lum_cs_maps` without autograd, from :func:`_strip_deficits`."""
    n, c, h, w = x.shape
    k = window.numel()
    ho, wo = h - k + 1, w - k + 1
    lum = x.new_empty(n * c, ho, wo)
    cs = x.new_empty(n * c, ho, wo)
    one = torch.ones((), dtype=x.dtype, device=x.device)

    def consume(p0: int, gp: int, i0: int, s: int, o: Tensor, dup: int) -> None:
        a, d, sp, tq = o.unbind(0)
        _tiles_to_map(lum[p0 : p0 + gp, i0 : i0 + s], torch.add(one, d, alpha=-2.0, out=a), dup)
        _tiles_to_map(cs[p0 : p0 + gp, i0 : i0 + s], torch.add(one, tq, alpha=-2.0, out=sp), dup)

    _strip_deficits(x, y, window, k1, k2, consume)
    return lum.view(n, c, ho, wo), cs.view(n, c, ho, wo)


def matlab_downsample_factor(height: int, width: int) -> int:
    """``ssim.m``'s factor ``max(1, round(min(H, W)/256))`` with MATLAB rounding."""
    return max(1, matlab_round(min(height, width) / 256))


def ssim(
    x: Tensor,
    y: Tensor,
    data_range: float,
    *,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    downsample: Literal["none", "matlab"] = "none",
    return_map: bool = False,
    precision: Precision = "auto",
) -> Tensor | tuple[Tensor, Tensor]:
    """Structural similarity per image (Wang et al. 2004), shape (N,).

    Args:
        x, y: (N, C, H, W) tensors on the same device, values on the scale
            ``[0, data_range]`` (integer tensors are promoted).
        data_range: L, the dynamic range of the data (255 for 8-bit images,
            65535 for 16-bit, 1.0 for floats in [0, 1]). Never inferred.
        window_size, sigma: the Gaussian window (11, 1.5 as in ``ssim_index.m``).
        k1, k2: stabilising constants, C1 = (k1·L)², C2 = (k2·L)².
        downsample: ``"none"`` (``ssim_index.m``, default) or ``"matlab"``
            (``ssim.m``: box low-pass with imfilter's anchor and symmetric
            borders, then keep every f-th sample, f = max(1, round(min(H,W)/256))).
        return_map: also return the SSIM map (N, C, h, w) of the valid region.
        precision: ``"auto"`` (float64 on the CPU or for float64 input; float32
            for float32 input on CUDA), ``"single"`` (float32 with tile-centred
            moments, ~1e-7 of float64 measured) or ``"double"``.

    Returns:
        The per-image SSIM, the mean over channels of each channel's mean map
        value, in the compute dtype (float64 by default on the CPU).
        Values lie in [−1, 1]; anti-correlated images give negative values
        (not clamped).

    Raises:
        ValueError: shapes differ, are not 4-D, or an image side is smaller
            than the window (after downsampling).
    """
    check_pair(x, y)
    data_range = check_data_range(data_range)
    if downsample not in ("none", "matlab"):
        raise ValueError(f"downsample must be 'none' or 'matlab', not {downsample!r}")
    f = matlab_downsample_factor(*x.shape[-2:]) if downsample == "matlab" else 1
    after = f" after downsampling by {f}" if f > 1 else ""
    check_size(x, (window_size - 1) * f + 1, f"the {window_size}x{window_size} window{after}")
    dtype = compute_dtype(x, precision)
    out_dtype = dtype  # results in the compute dtype (float64 on the CPU by default)
    if dtype == torch.float64 and _cpu.usable(x, y):  # the C kernel reads the stored samples
        window = gaussian_taps(window_size, sigma)
        images = x.shape[:2]
        if f > 1:  # the box sums of the stored samples, data range f²·L (exact for integers)
            x, y, data_range = _cpu.box_sums(f, data_range, x, y)
        mean_s, _, smap = _cpu.ssim_means(x, y, data_range, window, k1, k2, keep_map=return_map, images=images)
        values = _cpu.channel_mean(mean_s)  # torch's mean(dim=1), bit for bit
        if return_map:
            return values, torch.from_numpy(smap).view(*mean_s.shape, *smap.shape[1:])
        return values
    xs = x.to(dtype) / data_range
    ys = y.to(dtype) / data_range
    if downsample == "matlab":
        xs = matlab_box_decimate(xs, f)
        ys = matlab_box_decimate(ys, f)
    window = gaussian_window(window_size, sigma, dtype=dtype, device=x.device)
    mean_s, _, smap = mean_ssim_cs(xs, ys, window, k1, k2, keep_map=return_map)
    values = mean_s.mean(dim=1).to(out_dtype)
    if return_map:
        return values, smap
    return values
