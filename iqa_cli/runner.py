"""Scoring pairs: decoding in threads, computing on one device, one result per pair.

Data flow: :mod:`.pairing` gives :class:`~.pairing.Pair` objects, :mod:`.io`
decodes and aligns the two images, this module turns them into tensors on the
chosen device, calls the metric functions of :mod:`.metrics` (the only place
numbers come from) and returns :class:`~.results.PairResult` rows. A pair that
fails becomes an ``error`` row; the batch goes on.
"""

from __future__ import annotations

import os
import warnings
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
    want = set(settings.metrics)
    L = float(prepared.data_range)
    notes: list[str] = []
    out: dict[str, float | None] = {}
    # the stored samples (uint8 / float32 / float64, see prepare_pair): the metrics
    # read them as they are and accumulate in float64
    x0 = torch.from_numpy(np.ascontiguousarray(prepared.reference))[None].to(device)
    y0 = x0 if identical else torch.from_numpy(np.ascontiguousarray(prepared.distorted))[None].to(device)
    x = _to_color(x0, settings, L, integer)
    y = x if identical else _to_color(y0, settings, L, integer)
    h, w = x.shape[-2:]
    maps: dict | None = {} if keep_maps else None
    need_map = keep_maps or bool(want & _MAP_METRICS)

    def skip(names: Iterable[str], why: str) -> None:
        for n in names:
            if n in want:
                out[n] = None
        notes.append(why)

    # --- SSIM family -----------------------------------------------------
    ms_ok = min(h, w) >= min_side()
    if "ms_ssim" in want and ms_ok and not identical:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ms_value, ssim_value = ms_ssim_and_ssim(x, y, L)
        out["ms_ssim"] = float(ms_value[0])
        if caught:
            notes.append("ms_ssim: a scale has negative similarity (anti-correlated content): NaN as in msssim.m")
        if settings.downsample == "none":  # MS-SSIM's first scale is this SSIM, bit for bit
            out["ssim"] = float(ssim_value[0])
    ssim_family = want & {"ssim", "ssim_min", "ssim_below"}
    if need_map or (ssim_family - out.keys()):
        if min(h, w) < SSIM_WINDOW:
            skip(ssim_family, f"ssim: image of {w}x{h} px is smaller than the 11x11 window; not computed")
        elif identical:  # the SSIM map of an image with itself is 1 everywhere
            ones = 1.0
            for name, value in (("ssim", ones), ("ssim_min", ones), ("ssim_below", float(ones < settings.below))):
                if name in want:
                    out[name] = value
            if maps is not None:
                maps["ssim_map"] = np.ones((h - SSIM_WINDOW + 1, w - SSIM_WINDOW + 1), dtype=np.float32)
        else:
            if need_map:
                value, smap = ssim(x, y, L, downsample=settings.downsample, return_map=True)
            else:  # no map kept: less memory on large images
                value, smap = ssim(x, y, L, downsample=settings.downsample), None
            if "ssim" in want and "ssim" not in out:
                out["ssim"] = float(value[0])
            if "ssim_min" in want:
                out["ssim_min"] = float(local.ssim_min(smap, settings.block)[0])
            if "ssim_below" in want:
                out["ssim_below"] = float(local.ssim_below(smap, settings.below)[0])
            if maps is not None:
                maps["ssim_map"] = smap[0].mean(dim=0).to(torch.float32).cpu().numpy()
    if "ms_ssim" in want and not ms_ok:
        need = min_side()
        skip(["ms_ssim"], f"ms_ssim: needs at least {need}x{need} px, image is {w}x{h}; not computed")
    elif "ms_ssim" in want and identical:
        out["ms_ssim"] = 1.0
    # --- pixel metrics ---------------------------------------------------
    if want & {"mse", "psnr"}:
        m = torch.zeros(1, dtype=torch.float64) if identical else mse(x, y)
        if "mse" in want:
            out["mse"] = float(m[0])
        if "psnr" in want:
            out["psnr"] = float(psnr_from_mse(m, L)[0])
    if "tv" in want:  # TV of the [0, 1]-scaled images
        tv_x = float(total_variation(x, "l1", settings.tv_reduction, data_range=L)[0])
        out["tv_reference"] = tv_x
        out["tv_distorted"] = tv_x if identical else float(total_variation(y, "l1", settings.tv_reduction, data_range=L)[0])
    if "mix" in want:
        need = ZHAO_SIZE if settings.mix_variant == "zhao" else SSIM_WINDOW
        if min(h, w) < need:
            skip(["mix"], f"mix: needs at least {need}x{need} px, image is {w}x{h}; not computed")
        elif identical:
            out["mix"] = 0.0
        else:
            out["mix"] = float(mix_loss(x, y, L, settings.mix_alpha, settings.mix_variant)[0])
    # --- changed pixels (image units, after alpha handling, before --color) ---
    if want & {"diff_pixels", "diff_ratio"} or maps is not None:
        if identical:
            mask = torch.zeros((1, x0.shape[-2], x0.shape[-1]), dtype=torch.bool)
        else:
            mask = local.diff_mask(x0, y0, settings.pixel_tol)
        count = int(mask.sum())
        if "diff_pixels" in want:
            out["diff_pixels"] = count
        if "diff_ratio" in want:
            out["diff_ratio"] = count / float(mask.shape[-2] * mask.shape[-1])
        if maps is not None:
            maps["diff_mask"] = mask[0].cpu().numpy()
    return out, notes, maps


def _missing(pair: Pair) -> PairResult:
    ref = str(pair.reference) if pair.reference is not None else None
    dist = str(pair.distorted) if pair.distorted is not None else None
    if pair.reference is None:
        return PairResult(ref, dist, MISSING_REFERENCE, error=f"no reference for {pair.key}")
    return PairResult(ref, dist, MISSING_DISTORTED, error=f"no distorted image for {pair.key}")


def score_loaded(loaded: Loaded, settings: Settings, device: torch.device, *, keep_maps: bool = False) -> PairResult:
    """Turn a decoded pair into a result row (never raises for a bad pair)."""
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
        row.error = f"{pair.distorted}: cannot score: {reason}"
        return row
    if loaded.identical:
        notes.append("byte-identical files")
    row.metrics = {c: metrics.get(c) for c in settings.columns}
    row.warnings.extend(notes)
    row.maps = maps
    return row


def default_workers() -> int:
    return max(1, min(8, (os.cpu_count() or 2)))


def run(
    pairs: Iterable[Pair],
    settings: Settings,
    *,
    device: torch.device | None = None,
    workers: int | None = None,
    keep_maps: bool = False,
    on_result: Callable[[PairResult], None] | None = None,
) -> Iterator[PairResult]:
    """Score pairs in order: up to ``workers`` decode in threads ahead of the
    computation, which runs on ``device`` in the calling thread."""
    device = device or resolve_device(settings.device)
    pairs = list(pairs)
    workers = default_workers() if workers is None else max(1, int(workers))
    ahead = max(2, 2 * workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iqa-decode") as pool:
        futures: list[Future[Loaded]] = []
        nxt = 0
        for i in range(len(pairs)):
            while nxt < len(pairs) and nxt < i + ahead:
                futures.append(pool.submit(load_pair, pairs[nxt], settings))
                nxt += 1
            loaded = futures[i].result()
            futures[i] = None  # type: ignore[call-overload]  # free memory early
            result = score_loaded(loaded, settings, device, keep_maps=keep_maps)
            if on_result is not None:
                on_result(result)
            yield result
