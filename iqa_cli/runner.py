"""Scoring pairs: decoding in threads, computing on one device, one result per pair.

Data flow: :mod:`.pairing` gives :class:`~.pairing.Pair` objects, :mod:`.io`
decodes and aligns the two images, this module turns them into tensors on the
chosen device, calls the metric functions of :mod:`.metrics` (the only place
numbers come from) and returns :class:`~.results.PairResult` rows. A pair that
fails becomes an ``error`` row; the batch goes on.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from .errors import IqaError, SizeMismatchError, UsageError
from .io import LoadedImage, PreparedPair, load_image, prepare_pair
from .metrics import local
from .metrics.color import rgb_to_gray_matlab, rgb_to_y_bt601
from .metrics.mix import ZHAO_SIZE, mix_loss
from .metrics.ms_ssim import min_side, ms_ssim_and_ssim
from .metrics.pixel import mse, psnr_from_mse
from .metrics.ssim import ssim
from .metrics.tv import total_variation
from .pairing import Pair
from .results import ERROR, MISSING_DISTORTED, MISSING_REFERENCE, OK, PairResult, Settings

SSIM_WINDOW = 11
_MAP_METRICS = {"ssim_min", "ssim_below"}


def resolve_device(spec: str = "cpu") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cpu``; ``cuda`` / ``cuda:N``.

    Raises :class:`UsageError` (one line) for an unavailable or unknown device.
    """
    spec = (spec or "cpu").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: CUDA is not available on this machine (torch {torch.__version__})")
        try:
            dev = torch.device(spec)
        except RuntimeError:
            raise UsageError(f"--device {spec}: not a valid device") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
        return dev
    raise UsageError(f"--device {spec}: expected auto, cpu, cuda or cuda:N")


@dataclass
class Loaded:
    """A decoded, aligned pair (or the reason it could not be)."""

    pair: Pair
    prepared: PreparedPair | None = None
    integer: bool = False  # both files hold integer samples
    identical: bool = False  # byte-identical files
    error: IqaError | None = None


def _same_bytes(a: str, b: str) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                ca, cb = fa.read(1 << 20), fb.read(1 << 20)
                if ca != cb:
                    return False
                if not ca:
                    return True
    except OSError:
        return False


def load_pair(pair: Pair, settings: Settings) -> Loaded:
    """Decode and align both images of a pair (thread-safe; no torch)."""
    if pair.reference is None or pair.distorted is None:
        return Loaded(pair)
    try:
        kw = dict(bit_depth=settings.bit_depth, data_range=settings.data_range)
        if settings.max_pixels is not None:
            kw["max_pixels"] = settings.max_pixels
        ref: LoadedImage = load_image(pair.reference, **kw)
        identical = _same_bytes(str(pair.reference), str(pair.distorted))
        dist: LoadedImage = ref if identical else load_image(pair.distorted, **kw)
        prepared = prepare_pair(ref, dist, alpha=settings.alpha)
        integer = ref.pixels.dtype.kind in "ui" and dist.pixels.dtype.kind in "ui"
        return Loaded(pair, prepared, integer, identical)
    except IqaError as e:
        return Loaded(pair, error=e)
    except MemoryError:
        return Loaded(pair, error=IqaError("out of memory while decoding", pair.distorted))


def _to_color(x: torch.Tensor, settings: Settings, data_range: float, integer: bool) -> torch.Tensor:
    """Apply ``--color`` to a (1, C, H, W) tensor; an alpha channel (C = 2 or 4) is kept."""
    if settings.color == "rgb":
        return x
    x = x.to(torch.float64)
    c = x.shape[1]
    alpha = x[:, c - 1 :] if c in (2, 4) else None
    colour = x[:, : c - 1] if alpha is not None else x
    if colour.shape[1] == 1:
        colour = colour.expand(-1, 3, -1, -1)
    if settings.color == "y":
        luma = rgb_to_y_bt601(colour, data_range, round=integer)
    elif settings.color == "gray":
        luma = rgb_to_gray_matlab(colour, round=integer)
    else:
        raise UsageError(f"--color {settings.color}: expected rgb, y or gray")
    return luma if alpha is None else torch.cat([luma, alpha], dim=1)


def score_prepared(
    prepared: PreparedPair,
    settings: Settings,
    device: torch.device,
    *,
    integer: bool = False,
    identical: bool = False,
    keep_maps: bool = False,
) -> tuple[dict[str, float | None], list[str], dict | None]:
    """Compute the requested metrics of one aligned pair.

    Returns ``(metrics, warnings, maps)``. Metrics that cannot be computed for
    this size (MS-SSIM below 176 px, SSIM below 11 px) are ``None`` with a
    warning; the others are still computed.
    """
    return score_stack([prepared], settings, device, integer=integer, identical=identical, keep_maps=keep_maps)[0]


def _stacked(arrays: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """(N, C, H, W) tensor of N (C, H, W) arrays; no copy for N = 1 on the CPU."""
    if len(arrays) == 1:
        return torch.from_numpy(np.ascontiguousarray(arrays[0]))[None].to(device)
    return torch.from_numpy(np.stack(arrays)).to(device)


def score_stack(
    preps: list[PreparedPair],
    settings: Settings,
    device: torch.device,
    *,
    integer: bool = False,
    identical: bool = False,
    keep_maps: bool = False,
) -> list[tuple[dict[str, float | None], list[str], dict | None]]:
    """:func:`score_prepared` of N pairs of one shape, sample dtype and data
    range, computed as one (N, C, H, W) batch (the GPU path of :func:`run`).
    Every metric is per image, so each pair gets its own numbers; ``identical``
    (byte-identical files) only for N = 1.
    """
    n = len(preps)
    if n < 1 or (identical and n > 1):
        raise ValueError("score_stack: one or more pairs, and identical only for one")
    want = set(settings.metrics)
    L = float(preps[0].data_range)
    notes: list[list[str]] = [[] for _ in range(n)]
    out: list[dict[str, float | None]] = [{} for _ in range(n)]
    # the stored samples (uint8 / float32 / float64, see prepare_pair): the metrics
    # read them as they are and accumulate in float64
    x0 = _stacked([p.reference for p in preps], device)
    y0 = x0 if identical else _stacked([p.distorted for p in preps], device)
    x = _to_color(x0, settings, L, integer)
    y = x if identical else _to_color(y0, settings, L, integer)
    h, w = x.shape[-2:]
    maps: list[dict | None] = [{} if keep_maps else None for _ in range(n)]
    need_map = keep_maps or bool(want & _MAP_METRICS)

    def skip(names: Iterable[str], why: str) -> None:
        for i in range(n):
            for name in names:
                if name in want:
                    out[i][name] = None
            notes[i].append(why)

    def put(name: str, values: torch.Tensor) -> None:
        for i in range(n):
            out[i][name] = float(values[i])

    # --- SSIM family -----------------------------------------------------
    ms_ok = min(h, w) >= min_side()
    if "ms_ssim" in want and ms_ok and not identical:
        ms_value, ssim_value = ms_ssim_and_ssim(x, y, L, warn=False)  # a NaN is reported on its own pair below
        put("ms_ssim", ms_value)
        for i in range(n):
            if math.isnan(out[i]["ms_ssim"]):  # a negative mean cs or SSIM (msssim.m's complex result)
                notes[i].append("ms_ssim: a scale has negative similarity (anti-correlated content): NaN as in msssim.m")
        if settings.downsample == "none":  # MS-SSIM's first scale is this SSIM, bit for bit
            put("ssim", ssim_value)
    ssim_family = want & {"ssim", "ssim_min", "ssim_below"}
    if need_map or (ssim_family - out[0].keys()):
        if min(h, w) < SSIM_WINDOW:
            skip(ssim_family, f"ssim: image of {w}x{h} px is smaller than the 11x11 window; not computed")
        elif identical:  # the SSIM map of an image with itself is 1 everywhere
            ones = 1.0
            for name, value in (("ssim", ones), ("ssim_min", ones), ("ssim_below", float(ones < settings.below))):
                if name in want:
                    out[0][name] = value
            if maps[0] is not None:
                maps[0]["ssim_map"] = np.ones((h - SSIM_WINDOW + 1, w - SSIM_WINDOW + 1), dtype=np.float32)
        else:
            if need_map:
                value, smap = ssim(x, y, L, downsample=settings.downsample, return_map=True)
            else:  # no map kept: less memory on large images
                value, smap = ssim(x, y, L, downsample=settings.downsample), None
            if "ssim" in want and "ssim" not in out[0]:
                put("ssim", value)
            if "ssim_min" in want:
                put("ssim_min", local.ssim_min(smap, settings.block))
            if "ssim_below" in want:
                put("ssim_below", local.ssim_below(smap, settings.below))
            if keep_maps:
                for i in range(n):
                    maps[i]["ssim_map"] = smap[i].mean(dim=0).to(torch.float32).cpu().numpy()
    if "ms_ssim" in want and not ms_ok:
        need = min_side()
        skip(["ms_ssim"], f"ms_ssim: needs at least {need}x{need} px, image is {w}x{h}; not computed")
    elif "ms_ssim" in want and identical:
        out[0]["ms_ssim"] = 1.0
    # --- pixel metrics ---------------------------------------------------
    if want & {"mse", "psnr"}:
        m = torch.zeros(1, dtype=torch.float64) if identical else mse(x, y)
        if "mse" in want:
            put("mse", m)
        if "psnr" in want:
            put("psnr", psnr_from_mse(m, L))
    if "tv" in want:  # TV of the [0, 1]-scaled images
        tv_x = total_variation(x, "l1", settings.tv_reduction, data_range=L)
        put("tv_reference", tv_x)
        put("tv_distorted", tv_x if identical else total_variation(y, "l1", settings.tv_reduction, data_range=L))
    if "mix" in want:
        need = ZHAO_SIZE if settings.mix_variant == "zhao" else SSIM_WINDOW
        if min(h, w) < need:
            skip(["mix"], f"mix: needs at least {need}x{need} px, image is {w}x{h}; not computed")
        elif identical:
            out[0]["mix"] = 0.0
        else:
            put("mix", mix_loss(x, y, L, settings.mix_alpha, settings.mix_variant))
    # --- changed pixels (image units, after alpha handling, before --color) ---
    if want & {"diff_pixels", "diff_ratio"} or keep_maps:
        if identical:
            mask = torch.zeros((1, x0.shape[-2], x0.shape[-1]), dtype=torch.bool)
        else:
            mask = local.diff_mask(x0, y0, settings.pixel_tol)
        counts = mask.sum(dim=(1, 2))
        for i in range(n):
            count = int(counts[i])
            if "diff_pixels" in want:
                out[i]["diff_pixels"] = count
            if "diff_ratio" in want:
                out[i]["diff_ratio"] = count / float(mask.shape[-2] * mask.shape[-1])
            if keep_maps:
                maps[i]["diff_mask"] = mask[i].cpu().numpy()
    return list(zip(out, notes, maps))


def _missing(pair: Pair) -> PairResult:
    ref = str(pair.reference) if pair.reference is not None else None
    dist = str(pair.distorted) if pair.distorted is not None else None
    if pair.reference is None:
        return PairResult(ref, dist, MISSING_REFERENCE, error=f"no reference for {pair.key}")
    return PairResult(ref, dist, MISSING_DISTORTED, error=f"no distorted image for {pair.key}")


def _open_row(loaded: Loaded) -> PairResult:
    """The row of a pair: finished (status set) for a missing file or a decode
    error, else with its geometry and decode warnings, ready for metrics."""
    pair = loaded.pair
    if pair.reference is None or pair.distorted is None:
        return _missing(pair)
    row = PairResult(str(pair.reference), str(pair.distorted))
    if loaded.error is not None:
        row.status = ERROR
        row.error = loaded.error.reason if isinstance(loaded.error, SizeMismatchError) else str(loaded.error)
        row.maps = {"size_mismatch": True} if isinstance(loaded.error, SizeMismatchError) else None
        return row
    p = loaded.prepared
    assert p is not None
    row.width, row.height, row.channels = int(p.reference.shape[2]), int(p.reference.shape[1]), int(p.reference.shape[0])
    row.data_range = float(p.data_range)
    row.warnings = list(p.warnings)
    return row


def _close_row(row: PairResult, loaded: Loaded, settings: Settings, scored: tuple) -> PairResult:
    metrics, notes, maps = scored
    if loaded.identical:
        notes.append("byte-identical files")
    row.metrics = {c: metrics.get(c) for c in settings.columns}
    row.warnings.extend(notes)
    row.maps = maps
    return row


def score_loaded(loaded: Loaded, settings: Settings, device: torch.device, *, keep_maps: bool = False) -> PairResult:
    """Turn a decoded pair into a result row (never raises for a bad pair)."""
    row = _open_row(loaded)
    if row.status != OK:
        return row
    p = loaded.prepared
    assert p is not None
    try:
        metrics, notes, maps = score_prepared(
            p, settings, device, integer=loaded.integer, identical=loaded.identical, keep_maps=keep_maps
        )
    except torch.cuda.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            metrics, notes, maps = score_prepared(
                p, settings, torch.device("cpu"), integer=loaded.integer, identical=loaded.identical, keep_maps=keep_maps
            )
            notes.append(f"out of GPU memory on {device}: scored on the CPU")
        else:  # pragma: no cover - torch raises this only for CUDA
            raise
    except (ValueError, RuntimeError, MemoryError) as e:
        row.status = ERROR
        lines = str(e).strip().splitlines()
        reason = lines[0] if lines else ("out of memory" if isinstance(e, MemoryError) else type(e).__name__)
        row.error = f"{loaded.pair.distorted}: cannot score: {reason}"
        return row
    return _close_row(row, loaded, settings, (metrics, notes, maps))


def _group_key(loaded: Loaded) -> tuple | None:
    """Pairs with equal keys can be scored as one batch; None: score alone."""
    p = loaded.prepared
    if p is None or loaded.error is not None or loaded.identical:
        return None
    return (p.reference.shape, p.reference.dtype.str, p.distorted.dtype.str, float(p.data_range), loaded.integer)


def score_group(group: list[Loaded], settings: Settings, device: torch.device, *, keep_maps: bool = False) -> list[PairResult]:
    """Score pairs with one :func:`_group_key` as one (N, C, H, W) batch. Out
    of memory: the group is halved until it fits (a single pair then falls
    back to the CPU, see :func:`score_loaded`); another failure: the pairs
    are scored one by one, so the error lands on its own pair."""
    if len(group) == 1:
        return [score_loaded(group[0], settings, device, keep_maps=keep_maps)]
    try:
        scored = score_stack(
            [g.prepared for g in group], settings, device, integer=group[0].integer, keep_maps=keep_maps  # type: ignore[misc]
        )
    except (torch.cuda.OutOfMemoryError, MemoryError):
        if device.type == "cuda":
            torch.cuda.empty_cache()
        half = len(group) // 2
        return score_group(group[:half], settings, device, keep_maps=keep_maps) + score_group(
            group[half:], settings, device, keep_maps=keep_maps
        )
    except (ValueError, RuntimeError):
        return [score_loaded(g, settings, device, keep_maps=keep_maps) for g in group]
    return [_close_row(_open_row(g), g, settings, sc) for g, sc in zip(group, scored)]


def default_workers() -> int:
    return max(1, min(8, (os.cpu_count() or 2)))


GPU_BATCH = 16  # pairs per batch on CUDA
BATCH_SAMPLES = 1 << 26  # samples per batch at most, N·C·H·W of the references (as many again for the distorted)


def default_batch(device: torch.device) -> int:
    """Pairs scored together: 1 on the CPU, where the C kernels already split
    each pair across the cores and a batch would gain nothing, and
    :data:`GPU_BATCH` on CUDA, where one launch per metric for many pairs
    keeps the GPU busy."""
    return GPU_BATCH if device.type == "cuda" else 1


def run(
    pairs: Iterable[Pair],
    settings: Settings,
    *,
    device: torch.device | None = None,
    workers: int | None = None,
    keep_maps: bool = False,
    batch: int | None = None,
    on_result: Callable[[PairResult], None] | None = None,
) -> Iterator[PairResult]:
    """Score pairs in order: up to ``workers`` decode in threads ahead of the
    computation, which runs on ``device`` in the calling thread. Consecutive
    decoded pairs of one shape, sample type and data range are scored
    together, up to ``batch`` pairs (default :func:`default_batch`) and
    :data:`BATCH_SAMPLES` reference samples; every metric is per image,
    so a pair's numbers do not depend on its neighbours beyond rounding."""
    device = device or resolve_device(settings.device)
    pairs = list(pairs)
    workers = default_workers() if workers is None else max(1, int(workers))
    batch = default_batch(device) if batch is None else max(1, int(batch))
    ahead = max(2, 2 * workers)  # decoded pairs kept ready beyond the one (or the group) being scored
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iqa-decode") as pool:
        futures: list[Future[Loaded] | None] = []

        def loaded_at(k: int) -> Loaded:
            while len(futures) < len(pairs) and len(futures) < k + ahead:
                futures.append(pool.submit(load_pair, pairs[len(futures)], settings))
            f = futures[k]
            assert f is not None
            return f.result()

        i = 0
        while i < len(pairs):
            group = [loaded_at(i)]
            key = _group_key(group[0]) if batch > 1 else None
            if key is not None:
                samples = int(np.prod(key[0]))
                while len(group) < batch and i + len(group) < len(pairs) and (len(group) + 1) * samples <= BATCH_SAMPLES:
                    nxt = loaded_at(i + len(group))
                    if _group_key(nxt) != key:
                        break
                    group.append(nxt)
            results = score_group(group, settings, device, keep_maps=keep_maps)
            for k in range(i, i + len(group)):
                futures[k] = None  # free memory early
            i += len(group)
            for result in results:
                if on_result is not None:
                    on_result(result)
                yield result
