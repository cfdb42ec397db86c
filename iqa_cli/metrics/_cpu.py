"""The native CPU path of SSIM, MS-SSIM, the zhao mixed loss, MSE, TV, the
box decimations and the colour-to-luma conversions.

The C extension ``_native`` (``_native.c``) computes, in float64, the sums of
the SSIM terms over a range of output rows of one image plane, reading the
planes in their stored type (uint8, uint16, float32 or float64) and dividing
by the data range as it goes: no float copy of the image is made. This module
cuts the planes into strips of output rows, runs them in
worker threads (the extension releases the GIL), and adds the strip sums in a
fixed order, so results do not depend on the number of threads.

It is used on the CPU when nothing needs a gradient; the torch kernels of
:mod:`.ssim` remain the path for autograd, CUDA and ``precision="single"``,
and the fallback when the extension was not built (``IQA_NATIVE=0`` forces
that fallback). Both paths compute the same definitions; they agree to
~1e-15 (tests/test_native.py).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

try:
    from . import _native
except ImportError:  # built without a C compiler: the torch kernels are used
    _native = None

Tensor = torch.Tensor

STRIP_ROWS = 64  # fewest output rows per work item (each item re-reads K - 1 rows)
JOBS = 16  # work items per call, for up to ~8 threads
# torch.uint16 exists from torch 2.3 on (numpy views of it work; few torch ops do)
_DTYPES = tuple(d for d in (torch.uint8, getattr(torch, "uint16", None), torch.float32, torch.float64) if d is not None)
TRIM = 1e-18  # window taps below TRIM x the centre tap are dropped (zhao's small-sigma windows)

_pools: dict[int, ThreadPoolExecutor] = {}  # helpers per worker count, kept for the process
_pool_lock = threading.Lock()


def available() -> bool:
    """Whether the extension is built and not disabled by ``IQA_NATIVE=0``."""
    return _native is not None and os.environ.get("IQA_NATIVE", "1") != "0"


def usable(*tensors: Tensor) -> bool:
    """The native path applies: extension available, CPU tensors of one
    supported dtype, and no gradient wanted."""
    if not available() or len({t.dtype for t in tensors}) != 1:
        return False
    grad = torch.is_grad_enabled()
    return all(t.device.type == "cpu" and t.dtype in _DTYPES and not (grad and t.requires_grad) for t in tensors)


def _planes(t: Tensor | np.ndarray) -> np.ndarray:
    """(N, C, H, W) tensor → (N·C, H, W) C-contiguous numpy view (a copy only if strided);
    an array of planes passes through."""
    a = t if isinstance(t, np.ndarray) else t.detach().reshape(-1, t.shape[-2], t.shape[-1]).numpy()
    return np.ascontiguousarray(a)


def _run(jobs: list) -> list:
    """Call each zero-argument job and return their results in order. With
    several threads the calling thread works through the list too, alongside
    ``workers - 1`` pool threads that take the next job as they come free: the
    caller starts at once, however long an idle pool thread takes to wake
    (the measurements are in bench/README.md). The call returns (or raises the
    first error) once every job taken has finished; it does not wait for a
    helper that took none (waking one costs ~50-100 µs here, more than small
    calls take), which finds nothing left when it wakes."""
    workers = min(len(jobs), max(1, torch.get_num_threads()))
    if workers <= 1:
        return [job() for job in jobs]
    with _pool_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="iqa-native")
    results: list = [None] * len(jobs)
    state = {"next": 0, "running": 0, "error": None}
    done = threading.Condition()

    def drain() -> None:
        while True:
            with done:
                i = state["next"]
                if i >= len(jobs):
                    return
                state["next"] = i + 1
                state["running"] += 1
            try:
                results[i] = jobs[i]()
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                with done:
                    state["error"] = state["error"] or e
                    state["next"] = len(jobs)  # the others take no further job
            finally:
                with done:
                    state["running"] -= 1
                    done.notify_all()

    for _ in range(workers - 1):
        pool.submit(drain)
    try:
        drain()
    finally:
        with done:  # no job may still run when this returns or raises
            while state["running"]:
                done.wait()
    if state["error"] is not None:
        raise state["error"]
    return results


def _strips(ho: int, planes: int) -> list[tuple[int, int]]:
    """Row ranges of one plane's work items: about :data:`JOBS` items per call
    in all, at least :data:`STRIP_ROWS` rows each. The split depends only on
    the image's shape, never on the thread count, so sums are reproducible."""
    rows = max(STRIP_ROWS, -(-ho * planes // JOBS))
    return [(r, min(r + rows, ho)) for r in range(0, ho, rows)]


def _plane_sums(planes: int, rows: int, call) -> np.ndarray:
    """``call(p, r0, r1)`` for every strip of output rows of every plane (in
    worker threads); the results (numbers or tuples) added up per plane in a
    fixed order. Returns an array of shape (planes, ...)."""
    items = [(p, r0, r1) for p in range(planes) for r0, r1 in _strips(rows, planes)]
    parts = _run([lambda it=it: call(*it) for it in items])
    out = np.zeros((planes,) + np.shape(parts[0]))
    for (p, _, _), part in zip(items, parts):
        out[p] += part
    return out


MIN_ITEM = 1 << 13  # output pixels of SSIM per work item at least (~40 µs; handing one out costs ~10 µs)
COARSE_ITEM = 2 * MIN_ITEM  # MS-SSIM's scales 2-5: fewer hand-offs (scale 1 keeps SSIM's split, so its bits)


def _ssim_items(planes: int, ho: int, wo: int, min_item: int = 0) -> list[list[tuple[int, int, int, int, int]]]:
    """Work items of the SSIM kernel, each a list of (plane, first row, end
    row, first column, end column) pieces: about :data:`JOBS` items for large
    images, fewer for small ones (down to one, run in the calling thread,
    holding several whole planes). A plane is cut into groups of whole column
    blocks first, which costs nothing, and into row strips only beyond that
    (each costs K - 1 rows of warm-up per block). Strips start on even rows,
    as the MS-SSIM pass needs for its 2x2 decimation. The split depends only
    on the shape, so SSIM, MS-SSIM's first scale and any thread count give the
    same sums, bit for bit. ``min_item``: output pixels per item at least
    (default :data:`MIN_ITEM`)."""
    jobs = max(1, min(JOBS, planes * ho * wo // (min_item or MIN_ITEM)))
    if jobs <= planes:
        per = -(-planes // jobs)  # whole planes per item
        return [[(p, 0, ho, 0, wo) for p in range(p0, min(p0 + per, planes))] for p0 in range(0, planes, per)]
    block = _native.BLOCK
    blocks = -(-wo // block)
    per_plane = -(-jobs // planes)
    groups = min(blocks, per_plane)
    cols = -(-blocks // groups) * block
    strips = -(-per_plane // groups)
    rows = max(STRIP_ROWS, -(-ho // strips))
    rows += rows & 1
    return [[(p, r, min(r + rows, ho), c, min(c + cols, wo))]
            for p in range(planes) for r in range(0, ho, rows) for c in range(0, wo, cols)]


def _ssim_pass(xp: np.ndarray, yp: np.ndarray, L: float, g: np.ndarray, c1x2: float, c2x2: float,
               smap: np.ndarray | None = None, dec: tuple[np.ndarray, np.ndarray] | None = None,
               min_item: int = 0) -> np.ndarray:
    """Σdl, Σdc, Σdl·dc per plane of (planes, H, W) arrays, float64 (planes, 3),
    from the kernel's strips in worker threads; with ``smap`` the SSIM map, with
    ``dec`` msssim.m's 2x2 decimation of x / L and y / L written in the same pass."""
    planes, h, w = xp.shape
    k = g.size
    ho, wo = h - k + 1, w - k + 1
    items = _ssim_items(planes, ho, wo, min_item)

    def job(pieces: list[tuple[int, int, int, int, int]]) -> list:
        return [_native.ssim_sums(xp[p], yp[p], L, g, c1x2, c2x2, r0, r1,
                                  smap[p, r0:r1] if smap is not None else None,
                                  dec[0][p] if dec is not None else None, dec[1][p] if dec is not None else None,
                                  c0, c1)
                for p, r0, r1, c0, c1 in pieces]

    parts = _run([lambda it=it: job(it) for it in items])
    out = np.zeros((planes, 3))
    for pieces, sums in zip(items, parts):
        for piece, part in zip(pieces, sums):
            out[piece[0]] += part
    return out


def _means(sums: np.ndarray, count: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean SSIM, mean cs) from the sums of dl, dc and dl·dc over ``count`` windows."""
    dl, dc, dldc = sums.T
    return (count - 2.0 * dl - 2.0 * dc + 4.0 * dldc) / count, (count - 2.0 * dc) / count


def _taps(window: Tensor | np.ndarray) -> np.ndarray:
    """A window as the C kernels take it: C-contiguous float64 numpy."""
    if isinstance(window, np.ndarray) and window.dtype == np.float64:
        return np.ascontiguousarray(window)
    return np.ascontiguousarray(window.detach().to(torch.float64).cpu().numpy())


def trimmed(window: Tensor) -> np.ndarray:
    """The window as float64 numpy, with symmetric tails below ``TRIM`` × its
    centre tap removed (changes results by < 1e-16; saves work for small σ)."""
    g = window.detach().to(torch.float64).cpu().numpy()
    k = g.size
    r = (k - 1) // 2
    keep = r
    while keep > 0 and g[r - keep] < TRIM * g[r] and g[r + keep] < TRIM * g[r]:
        keep -= 1
    return np.ascontiguousarray(g[r - keep : r + keep + 1])


def ssim_means(
    x: Tensor | np.ndarray, y: Tensor | np.ndarray, data_range: float, window: Tensor, k1: float, k2: float,
    keep_map: bool = False, images: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`mean_ssim_cs` as numpy arrays: (N, C) means and the (N·C, h, w) map."""
    h, w = x.shape[-2:]
    planes = images[0] * images[1] if images is not None else x.shape[0] * x.shape[1]
    g = _taps(window)
    k = g.size
    if h < k or w < k:
        raise ValueError(f"image of {w}x{h} px is smaller than the {k}x{k} SSIM window")
    ho, wo = h - k + 1, w - k + 1
    smap = np.empty((planes, ho, wo), dtype=np.float64) if keep_map else None
    sums = _ssim_pass(_planes(x), _planes(y), float(data_range), g, 2.0 * k1 * k1, 2.0 * k2 * k2, smap)
    mean_s, mean_cs = _means(sums, float(ho * wo))
    n_c = images if images is not None else tuple(x.shape[:2])
    return mean_s.reshape(n_c), mean_cs.reshape(n_c), smap


def mean_ssim_cs(
    x: Tensor | np.ndarray, y: Tensor | np.ndarray, data_range: float, window: Tensor, k1: float, k2: float,
    keep_map: bool = False, images: tuple[int, int] | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Per-(image, channel) mean SSIM and mean cs of (N, C, H, W) CPU tensors on
    the ``[0, data_range]`` scale (float64), and the SSIM map if asked; the same
    contract as :func:`.ssim.mean_ssim_cs` on data already divided by the range.
    x and y may also be (N·C, H, W) arrays (:func:`box_sums`) with ``images`` = (N, C)."""
    mean_s, mean_cs, smap = ssim_means(x, y, data_range, window, k1, k2, keep_map, images)
    n, c = mean_s.shape
    smap_t = torch.from_numpy(smap).view(n, c, *smap.shape[1:]) if smap is not None else None
    return torch.from_numpy(np.ascontiguousarray(mean_s)), torch.from_numpy(np.ascontiguousarray(mean_cs)), smap_t


def channel_mean(m: np.ndarray) -> Tensor:
    """torch's ``mean(dim=1)`` of an (N, C) float64 array, bit for bit, as a
    tensor. Below 4 channels torch sums in order from 0 (its unrolled
    accumulators start at 4) and divides by C: done here in numpy, as a torch
    op right after a threaded pass cost ~35 µs (cold code, GIL hand-offs)."""
    c = m.shape[1]
    if c >= 4:
        return torch.from_numpy(np.ascontiguousarray(m)).mean(dim=1)
    s = m[:, 0] + 0.0
    for i in range(1, c):
        s = s + m[:, i]
    return torch.from_numpy(s / float(c))


def ms_ssim_terms(
    x: Tensor, y: Tensor, data_range: float, window: Tensor, k1: float, k2: float, levels: int
) -> tuple[Tensor, Tensor]:
    """:func:`ms_ssim_means` as tensors."""
    mean_s, mean_cs = ms_ssim_means(x, y, data_range, window, k1, k2, levels)
    return torch.from_numpy(mean_s), torch.from_numpy(mean_cs)


def ms_ssim_means(
    x: Tensor, y: Tensor, data_range: float, window: Tensor, k1: float, k2: float, levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean SSIM and mean cs of every scale of msssim.m's pyramid, per (image,
    channel): float64 (N, C, levels) each, of (N, C, H, W) CPU tensors on the
    ``[0, data_range]`` scale. One pass per scale computes the SSIM sums and
    the 2x2 decimation that makes the next scale; the scales live in one
    buffer allocated up front. Integer images keep integer scales: each
    sample of scale j + 1 is the exact sum of four of scale j, with data range
    4L (uint16 from uint8, which cannot overflow in five scales, else uint32),
    a quarter of float64's memory traffic and closer to the exact means than
    the float64 means msssim.m takes (float images: float64 means on [0, 1]).
    Scale 1's numbers are :func:`mean_ssim_cs`'s, bit for bit."""
    n, c, h, w = x.shape
    planes = n * c
    g = _taps(window)
    k = g.size
    xp, yp, L = _planes(x), _planes(y), float(data_range)
    kind = np.dtype(np.uint16 if xp.dtype == np.uint8 else np.uint32 if xp.dtype.kind == "u" else np.float64)
    shapes, hh, ww = [], h, w
    for _ in range(levels - 1):
        hh, ww = -(-hh // 2), -(-ww // 2)
        shapes.append((hh, ww))
    buf = np.empty(sum(2 * planes * a * b for a, b in shapes), dtype=kind)
    pyramid, at = [], 0
    for a, b in shapes:
        size = planes * a * b
        pyramid.append((buf[at : at + size].reshape(planes, a, b), buf[at + size : at + 2 * size].reshape(planes, a, b)))
        at += 2 * size
    mean_s = np.empty((planes, levels))
    mean_cs = np.empty((planes, levels))
    for level in range(levels):
        hh, ww = xp.shape[1:]
        if hh < k or ww < k:
            raise ValueError(f"image of {ww}x{hh} px is smaller than the {k}x{k} SSIM window")
        dec = pyramid[level] if level < levels - 1 else None
        sums = _ssim_pass(xp, yp, L, g, 2.0 * k1 * k1, 2.0 * k2 * k2, dec=dec,
                          min_item=0 if level == 0 else COARSE_ITEM)
        mean_s[:, level], mean_cs[:, level] = _means(sums, float((hh - k + 1) * (ww - k + 1)))
        if dec is not None:
            xp, yp, L = dec[0], dec[1], (4.0 * L if kind.kind == "u" else 1.0)
    return mean_s.reshape(n, c, levels), mean_cs.reshape(n, c, levels)


def decimate(f: int, data_range: float, *images: Tensor) -> tuple[Tensor, ...]:
    """``ssim.m``'s box low-pass and decimation by ``f`` (``msssim.m``'s for
    f = 2) of one or two (N, C, H, W) images, divided by ``data_range``:
    float64 (N, C, ⌈H/f⌉, ⌈W/f⌉) each, bit-identical to
    :func:`~._filters.matlab_box_decimate` of ``x.double() / data_range``."""
    n, c, h, w = images[0].shape
    ps = [_planes(t) for t in images]
    outs = [np.empty((n * c, -(-h // f), -(-w // f))) for _ in images]
    L = float(data_range)
    pairs = [(ps[0][p], ps[1][p] if len(ps) > 1 else None, outs[0][p], outs[1][p] if len(ps) > 1 else None)
             for p in range(n * c)]
    items = [(p, i0, i1) for p in range(n * c) for i0, i1 in _strips(outs[0].shape[1], n * c)]
    _run([lambda p=p, i0=i0, i1=i1: _native.decimate(pairs[p][0], pairs[p][1], L, f, pairs[p][2], pairs[p][3], i0, i1)
          for p, i0, i1 in items])
    return tuple(torch.from_numpy(o).view(n, c, *o.shape[1:]) for o in outs)


def decimate2(x: Tensor, y: Tensor, data_range: float) -> tuple[Tensor, Tensor]:
    """msssim.m's 2×2 box decimation of both images, divided by ``data_range``:
    float64 (N, C, ⌈H/2⌉, ⌈W/2⌉), bit-identical to
    :func:`~._filters.matlab_box_decimate` of ``x.double() / data_range``."""
    return decimate(2, data_range, x, y)  # type: ignore[return-value]


def box_sums(f: int, data_range: float, x: Tensor, y: Tensor) -> tuple[np.ndarray, np.ndarray, float]:
    """ssim.m's f x f box low-pass and decimation of two (N, C, H, W) images
    as the sums of the samples in each box: (N·C, ⌈H/f⌉, ⌈W/f⌉) arrays with
    data range f²·L, the returned third value. Integer samples give exact
    integer sums (uint16 while they fit, else uint32), others float64 sums;
    the SSIM kernel reads them as stored, dividing once by f²·L (the float64
    means of :func:`decimate` divide every sample by L and the sum by f²: the
    numbers agree to ~1e-16, and the sums cost no division)."""
    n, c, h, w = x.shape
    xp, yp = _planes(x), _planes(y)
    top = float(np.iinfo(xp.dtype).max) * f * f if xp.dtype.kind == "u" else None
    kind = np.float64 if top is None else np.uint16 if top <= 65535 else np.uint32 if top < 2**32 else np.float64
    shape = (n * c, -(-h // f), -(-w // f))
    ox, oy = np.empty(shape, dtype=kind), np.empty(shape, dtype=kind)
    items = _decimate_items(n * c, shape[1], shape[2] * f * f)
    _run([lambda p=p, i0=i0, i1=i1: _native.box_sums(xp[p], yp[p], f, ox[p], oy[p], i0, i1) for p, i0, i1 in items])
    return ox, oy, float(data_range) * f * f


def _decimate_items(planes: int, rows: int, work_per_row: int) -> list[tuple[int, int, int]]:
    """(plane, first row, end row) items of a decimation: about :data:`JOBS`
    for large images, one per plane when each is small (a job handed to a
    thread costs more than ~MIN_ITEM samples of work)."""
    jobs = max(1, min(JOBS, planes * rows * work_per_row // (4 * MIN_ITEM)))
    per = max(1, -(-rows * planes // jobs))
    return [(p, r, min(r + per, rows)) for p in range(planes) for r in range(0, rows, per)]


_NP_INTEGER = {torch.uint8: np.uint8, getattr(torch, "uint16", None): np.uint16}


def luma(
    x: Tensor, weights: tuple[float, float, float], offset: float, rnd: bool, dtype: torch.dtype | None = None
) -> Tensor:
    """``(w0·R + w1·G) + w2·B`` (``+ offset`` when not 0, ``floor(· + 0.5)``
    with ``rnd``) of an (N, 3, H, W) CPU tensor, as (N, 1, H, W): float32 for
    float32 samples (computed in float32, as torch does), else float64; the
    same bits as the torch expression of :mod:`.color`. With ``rnd``,
    ``dtype`` torch.uint8 or torch.uint16 stores the result in that type,
    saturated (NaN as 0)."""
    n, _, h, w = x.shape
    if dtype is not None:
        kind = _NP_INTEGER[dtype]
    else:
        kind = np.float32 if x.dtype == torch.float32 else np.float64
    out = np.empty((n, 1, h, w), dtype=kind)
    xd = x.detach()
    # each channel plane as its own 2-D array: channel views and expanded grey need no copy
    planes = [[np.ascontiguousarray(xd[i, k].numpy()) for k in range(3)] for i in range(n)]
    w0, w1, w2 = (float(v) for v in weights)
    off = float(offset)
    items = [(i, r0, r1) for i in range(n) for r0, r1 in _strips(h, n)]
    _run([lambda i=i, r0=r0, r1=r1: _native.luma(*planes[i], out[i, 0], w0, w1, w2, off, rnd, r0, r1)
          for i, r0, r1 in items])
    return torch.from_numpy(out)


def zhao_mean(
    x: Tensor, y: Tensor, data_range: float, windows: list[Tensor], alpha: float, k1: float, k2: float
) -> Tensor:
    """Per-image mean of the zhao mixed-loss map (see :mod:`.mix`), float64 (N,)."""
    n, c, h, w = x.shape
    gs = [trimmed(win) for win in windows]
    k = max(win.numel() for win in windows)
    if h < k or w < k:
        raise ValueError(f"the zhao mixed loss needs at least {k}x{k} px, got {w}x{h}")
    ho, wo = h - k + 1, w - k + 1
    xp, yp = _planes(x), _planes(y)
    L = float(data_range)
    c1x2, c2x2 = 2.0 * k1 * k1, 2.0 * k2 * k2
    sums = _plane_sums(
        n * c, ho, lambda p, r0, r1: _native.zhao_sum(xp[p], yp[p], L, gs, c1x2, c2x2, float(alpha), r0, r1)
    ).reshape(n, c).sum(axis=1)
    return torch.from_numpy(sums / float(c * ho * wo))


def sq_diff_sum(x: Tensor, y: Tensor) -> Tensor:
    """Per-image Σ(x − y)² of (N, C, H, W) CPU tensors, float64 (N,), in the data's units."""
    n, c, h, w = x.shape
    xp, yp = _planes(x), _planes(y)
    sums = _plane_sums(n * c, h, lambda p, r0, r1: _native.sq_diff_sum(xp[p], yp[p], r0, r1)).reshape(n, c).sum(axis=1)
    return torch.from_numpy(sums)


def tv_sums(x: Tensor, data_range: float, squared: bool) -> tuple[Tensor, Tensor]:
    """Per-image total-variation sums of ``x / data_range`` (vertical, horizontal),
    float64 (N,) each: Σ|d| or, with ``squared``, Σd²."""
    n, c, h, w = x.shape
    xp = _planes(x)
    L = float(data_range)
    sums = _plane_sums(n * c, h, lambda p, r0, r1: _native.tv_sums(xp[p], L, r0, r1, squared)).reshape(n, c, 2).sum(axis=1)
    return torch.from_numpy(np.ascontiguousarray(sums[:, 0])), torch.from_numpy(np.ascontiguousarray(sums[:, 1]))
