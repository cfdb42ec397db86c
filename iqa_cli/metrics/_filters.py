"""Shared filters: the Gaussian window, separable 'valid' filtering, and the
MATLAB-exact box downsamplers used by ``ssim.m`` and ``msssim.m``.

Separable filtering is done as blocked band-matrix products (GEMM) rather than
depthwise convolution: on CPU, torch's matrix multiply runs an order of
magnitude faster than its depthwise convolution, and the extra multiply-adds
on the zeros of each band block cost less than that. On CUDA the same code is
a handful of batched matmuls.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import Callable, Iterable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


@lru_cache(maxsize=32)
def _gaussian_1d_f64(size: int, sigma: float) -> tuple[float, ...]:
    r = (size - 1) / 2.0
    w = [math.exp(-((k - r) ** 2) / (2.0 * sigma * sigma)) for k in range(size)]
    s = sum(w)
    return tuple(v / s for v in w)


@lru_cache(maxsize=32)
def gaussian_taps(size: int = 11, sigma: float = 1.5):
    """:func:`gaussian_window` as a read-only float64 numpy array (the C kernels' argument), cached."""
    import numpy as np

    if size < 1 or sigma <= 0:
        raise ValueError(f"invalid Gaussian window: size {size}, sigma {sigma}")
    g = np.array(_gaussian_1d_f64(size, float(sigma)))
    g.setflags(write=False)
    return g


def gaussian_window(
    size: int = 11, sigma: float = 1.5, *, dtype: torch.dtype = torch.float64, device=None
) -> Tensor:
    """1-D normalised Gaussian, ``w[k] ∝ exp(-(k - (size-1)/2)² / (2σ²))``.

    The 2-D window of MATLAB's ``fspecial('gaussian', size, sigma)`` is the outer
    product of this vector with itself (the 2-D normalisation factorises; MATLAB's
    ``eps·max`` truncation has no effect for 11/1.5).
    """
    if size < 1 or sigma <= 0:
        raise ValueError(f"invalid Gaussian window: size {size}, sigma {sigma}")
    return torch.tensor(_gaussian_1d_f64(size, float(sigma)), dtype=dtype, device=device)


_band_cache: dict[tuple, Tensor] = {}


def _band(rows: int, taps: Tensor) -> Tensor:
    """(rows, rows + K - 1) matrix with ``taps`` on each row, shifted by one column per row."""
    key = (rows, taps.dtype, taps.device, tuple(taps.tolist()))
    t = _band_cache.get(key)
    if t is None:
        k = taps.numel()
        t = torch.zeros(rows, rows + k - 1, dtype=taps.dtype, device=taps.device)
        idx = torch.arange(rows, device=taps.device)
        for j in range(k):
            t[idx, idx + j] = taps[j]
        if len(_band_cache) > 256:
            _band_cache.clear()
        _band_cache[key] = t
    return t


def _block(dtype: torch.dtype) -> int:
    """Output rows per band block of the autograd path (unchanged numerics)."""
    return 32 if dtype in (torch.float32, torch.float16, torch.bfloat16) else 64


# Block sizes of the no-grad path, measured on a 2-core AMD EPYC (AVX2, MKL):
# a band GEMM spends (b + K - 1)/K multiply-adds per useful one, and small
# blocks run at a lower fraction of peak, so the best sizes are a compromise.
# For K = 11: 8 output rows per row-pass block, 12 (float64) or 16 (float32)
# output columns per column tile; for K = 33 (the mixed loss): 16 rows and
# 24/16 columns. The optimum is flat (±30% around these) and timings on the
# shared machine are noisy at the 10% level.


def row_block(k: int) -> int:
    """Output rows per row-pass band GEMM (no-grad path)."""
    return 8 if k <= 16 else 16


def tile_width(dtype: torch.dtype, k: int) -> int:
    """Output columns per column-pass tile (no-grad path)."""
    if dtype == torch.float64:
        return 12 if k <= 16 else 24
    return 16


def _filter_rows(x: Tensor, taps: Tensor) -> Tensor:
    """Valid correlation along dim -2: out[..., i, :] = Σ_k taps[k] x[..., i+k, :]."""
    k = taps.numel()
    h = x.shape[-2]
    ho = h - k + 1
    block = _block(x.dtype)
    if ho <= block:
        return torch.matmul(_band(ho, taps), x)
    grad = torch.is_grad_enabled() and x.requires_grad
    band = _band(block, taps)
    if grad:
        parts = []
        for i0 in range(0, ho, block):
            b = min(block, ho - i0)
            t = band if b == block else _band(b, taps)
            parts.append(torch.matmul(t, x[..., i0 : i0 + b + k - 1, :]))
        return torch.cat(parts, dim=-2)
    out = x.new_empty(x.shape[:-2] + (ho, x.shape[-1]))
    for i0 in range(0, ho, block):
        b = min(block, ho - i0)
        t = band if b == block else _band(b, taps)
        torch.matmul(t, x[..., i0 : i0 + b + k - 1, :], out=out[..., i0 : i0 + b, :])
    return out


def _filter_cols(x: Tensor, taps: Tensor) -> Tensor:
    """Valid correlation along dim -1."""
    k = taps.numel()
    w = x.shape[-1]
    wo = w - k + 1
    block = _block(x.dtype)
    if wo <= block:
        return torch.matmul(x, _band(wo, taps).t())
    band_t = _band(block, taps).t()
    parts = []
    for j0 in range(0, wo, block):
        b = min(block, wo - j0)
        t = band_t if b == block else _band(b, taps).t()
        parts.append(torch.matmul(x[..., j0 : j0 + b + k - 1], t))
    return torch.cat(parts, dim=-1)


def parallel_items(device: torch.device) -> int:
    """How many work items :func:`run_parallel` can run at once."""
    return max(1, torch.get_num_threads()) if device.type == "cpu" else 1


def run_parallel(items: Iterable, make: Callable[[], Callable], device: torch.device) -> None:
    """Call ``process(item)`` for every item, where each worker gets its own
    ``process = make()`` (its own buffers).

    On the CPU the items are shared out among ``torch.get_num_threads()``
    Python threads, each running torch single-threaded
    (``torch.set_num_threads(1)`` in the worker, the caller's count restored
    on exit; torch releases the GIL inside its kernels). The strip kernels
    issue hundreds of small operations; letting OpenMP split each of them
    costs a thread wake-up per operation, which with
    ``OMP_WAIT_POLICY=PASSIVE`` (the CLI's setting) made them 3-5x slower
    than a single thread, and spinning workers slow everything else down on
    a busy machine. Items must be independent; the order in which they run
    is not fixed. A single item runs in the calling thread (torch
    single-threaded meanwhile); on CUDA the items run in order in the calling
    thread.
    """
    items = list(items)
    threads_before = torch.get_num_threads()
    workers = min(len(items), threads_before if device.type == "cpu" else 1)
    if workers <= 1:
        single = device.type == "cpu" and threads_before > 1
        if single:  # one item: one thread, without OpenMP wake-ups
            torch.set_num_threads(1)
        try:
            process = make()
            for item in items:
                process(item)
        finally:
            if single:
                torch.set_num_threads(threads_before)
        return
    todo = iter(items)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                process = make()
                while not errors:
                    with lock:
                        item = next(todo, None)
                    if item is None:
                        break
                    process(item)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            errors.append(e)
        finally:
            torch.set_num_threads(threads_before)  # also the default that new threads inherit

    pool = [threading.Thread(target=work, name=f"iqa-strips-{i}", daemon=True) for i in range(workers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def rows_into(out: Tensor, x: Tensor, taps: Tensor) -> Tensor:
    """No-grad valid correlation along dim -2 of ``x`` (..., H, W) into ``out``
    (..., H-K+1, W): one band GEMM per :func:`row_block` output rows, in place."""
    k = taps.numel()
    block = row_block(k)
    ho = out.shape[-2]
    band = _band(min(block, ho), taps)
    for i0 in range(0, ho, block):
        b = min(block, ho - i0)
        t = band if b == band.shape[0] else _band(b, taps)
        torch.matmul(t, x[..., i0 : i0 + b + k - 1, :], out=out[..., i0 : i0 + b, :])
    return out


def col_tiles_into(tiles: Tensor, r: Tensor, taps: Tensor) -> int:
    """No-grad valid correlation along dim -1 of the rows of ``r`` (M, W) (row
    stride ≥ W, unit column stride), tile by tile.

    ``tiles`` is (nT, M, bw): tile j holds output columns j·bw … j·bw+bw−1
    computed as one GEMM ``r[:, j·bw : j·bw+bw+K−1] @ band`` over overlapping
    column windows (a strided view, no copy); all full tiles are a single
    batched GEMM. When bw does not divide the output width Wo, the last tile
    is aligned to the right edge (output columns Wo−bw … Wo−1), so its first
    ``dup`` columns repeat the previous tile's last ones. Returns ``dup``.
    """
    k = taps.numel()
    n_tiles, m, bw = tiles.shape
    w = r.shape[-1]
    wo = w - k + 1
    full = wo // bw
    tw = bw + k - 1
    band_t = _band(bw, taps).t()
    if full > 1:
        view = r.as_strided((full, m, tw), (bw, r.stride(0), 1))
        torch.bmm(view, band_t.expand(full, tw, bw), out=tiles[:full])
    elif full == 1:
        torch.mm(r[:, :tw], band_t, out=tiles[0])
    if full < n_tiles:
        torch.mm(r[:, w - tw :], band_t, out=tiles[full])
    return n_tiles * bw - wo


FILTER_STRIP_ELEMENTS = 1 << 18  # row-pass elements per strip of filter_valid (stays in cache)


def _filter_valid_nograd(x: Tensor, taps: Tensor) -> Tensor:
    k = taps.numel()
    h, w = x.shape[-2:]
    ho, wo = h - k + 1, w - k + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"{w}x{h} input is smaller than the {k}x{k} filter")
    lead = x.shape[:-2]
    x3 = x.reshape((-1, h, w))
    m = x3.shape[0]
    bw = min(tile_width(x.dtype, k), wo)
    n_tiles = -(-wo // bw)
    full = wo // bw
    s = max(row_block(k), min(ho, FILTER_STRIP_ELEMENTS // max(1, m * w), -(-ho // parallel_items(x.device))))
    out = x.new_empty(m, ho, wo)

    def make():
        rows = x.new_empty(m, s, w)
        tiles = x.new_empty(n_tiles, m * s, bw)

        def process(i0: int) -> None:
            n = min(s, ho - i0)
            r = rows[:, :n] if n == s else x.new_empty(m, n, w)
            rows_into(r, x3[:, i0 : i0 + n + k - 1], taps)
            t = tiles[:, : m * n] if n == s else x.new_empty(n_tiles, m * n, bw)
            dup = col_tiles_into(t, r.view(m * n, w), taps)
            o = out[:, i0 : i0 + n]
            o[..., : full * bw].unflatten(-1, (full, bw)).copy_(t[:full].view(full, m, n, bw).permute(1, 2, 0, 3))
            if full < n_tiles:
                o[..., full * bw :].copy_(t[full, :, dup:].view(m, n, bw - dup))

        return process

    run_parallel(range(0, ho, s), make, x.device)
    return out.view(lead + (ho, wo))


def filter_valid(x: Tensor, taps: Tensor) -> Tensor:
    """2-D 'valid' correlation of the last two dims with ``outer(taps, taps)``.

    Equals MATLAB ``filter2(w, x, 'valid')`` for the separable window
    ``w = taps ⊗ taps``; the output is (H-K+1, W-K+1). ``taps`` must have x's
    dtype and device.

    Without autograd the rows are filtered with band GEMMs of
    :func:`row_block` output rows and the columns with one batched GEMM over
    overlapping column tiles (:func:`col_tiles_into`), strip by strip of rows
    so that the intermediate stays in cache (strips shared out among threads,
    :func:`run_parallel`); with autograd the original blocked path
    (``torch.cat`` of band products) is kept.
    """
    if torch.is_grad_enabled() and (x.requires_grad or taps.requires_grad):
        return _filter_cols(_filter_rows(x, taps), taps)
    return _filter_valid_nograd(x, taps)


def filter_same_zero(x: Tensor, taps: Tensor) -> Tensor:
    """2-D correlation with zero padding, output the size of the input ('same')."""
    k = taps.numel()
    p = k // 2
    return filter_valid(F.pad(x, (p, k - 1 - p, p, k - 1 - p)), taps)


def symmetric_pad(x: Tensor, pre_h: int, post_h: int, pre_w: int, post_w: int) -> Tensor:
    """Pad the last two dims like ``numpy.pad(mode='symmetric')`` / MATLAB
    ``padarray(...,'symmetric')``: mirror *including* the edge sample."""

    def index(n: int, pre: int, post: int) -> Tensor:
        if pre > n or post > n:
            raise ValueError("padding larger than the image")
        return torch.cat(
            [
                torch.arange(pre - 1, -1, -1),
                torch.arange(n),
                torch.arange(n - 1, n - 1 - post, -1),
            ]
        ).to(x.device)

    h, w = x.shape[-2:]
    if pre_h or post_h:
        x = x.index_select(-2, index(h, pre_h, post_h))
    if pre_w or post_w:
        x = x.index_select(-1, index(w, pre_w, post_w))
    return x


def matlab_box_decimate(x: Tensor, f: int) -> Tensor:
    """``imfilter(x, ones(f)/f², 'symmetric', 'same')`` followed by ``x(1:f:end, 1:f:end)``.

    imfilter's anchor for an f-tap kernel is at 1-based ``floor((f+1)/2)``, so
    the window of output sample i covers input ``i-pre .. i-pre+f-1`` with
    ``pre = floor((f+1)/2) - 1``; borders are mirrored including the edge.
    Keeping every f-th sample from index 0 gives ``ceil(M/f)`` samples. For
    f = 2 this averages pixels (2i, 2i+1), repeating the last one for odd sizes.
    """
    if f <= 1:
        return x
    pre = (f + 1) // 2 - 1
    post = f - 1 - pre
    h, w = x.shape[-2:]
    # With pre = 0 (f = 2) and a side divisible by f, no kept window reaches
    # the padding: skip the copy (same windows, same numbers).
    ph = (pre, post) if pre or h % f else (0, 0)
    pw = (pre, post) if pre or w % f else (0, 0)
    return _box_pool(symmetric_pad(x, *ph, *pw), f)


def matlab_box_decimate_scaled(x: Tensor, f: int, scale: float, band_rows: int = 32) -> Tensor:
    """``matlab_box_decimate(x.double() / scale, f)``, bit for bit, without a
    float64 copy of the whole image: the output is built ``band_rows`` rows at
    a time, each band from its own f·band_rows input rows (mirrored at the
    top and bottom as :func:`matlab_box_decimate` pads them)."""
    if f <= 1:
        return x.double() / scale
    pre = (f + 1) // 2 - 1
    post = f - 1 - pre
    h, w = x.shape[-2:]
    if pre > h or post > h:
        raise ValueError("padding larger than the image")
    pw = (pre, post) if pre or w % f else (0, 0)
    ho = -(-h // f)
    out = None
    for i0 in range(0, ho, band_rows):
        i1 = min(ho, i0 + band_rows)
        rows = torch.arange(i0 * f - pre, i1 * f - pre)  # f input rows per output row
        rows = torch.where(rows < 0, -rows - 1, torch.where(rows >= h, 2 * h - 1 - rows, rows))
        band = x.index_select(-2, rows.to(x.device)).double() / scale
        part = _box_pool(symmetric_pad(band, 0, 0, *pw), f)
        if out is None:
            out = part.new_empty(part.shape[:-2] + (ho, part.shape[-1]))
        out[..., i0:i1, :] = part
    return out


def _box_pool(xp: Tensor, f: int) -> Tensor:
    """Mean of each f×f block of an already padded tensor (stride f)."""
    if f == 2 and xp.device.type == "cpu" and not (torch.is_grad_enabled() and xp.requires_grad):
        # avg_pool2d's own loop, written as strided adds in its order
        # ((x00 + x01) + x10) + x11, then / 4: bit-identical on the CPU, 2-4x faster.
        h2, w2 = xp.shape[-2] // 2 * 2, xp.shape[-1] // 2 * 2
        out = xp[..., 0:h2:2, 0:w2:2] + xp[..., 0:h2:2, 1:w2:2]
        out += xp[..., 1:h2:2, 0:w2:2]
        out += xp[..., 1:h2:2, 1:w2:2]
        return out.div_(4)
    return F.avg_pool2d(xp, kernel_size=f, stride=f)


def matlab_round(v: float) -> int:
    """MATLAB ``round``: half away from zero (Python's ``round`` is half to even)."""
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)
