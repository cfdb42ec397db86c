"""Running pairs: decoding in threads, scoring on one device, one result per pair.

:mod:`.pairing` gives :class:`~.pairing.Pair` objects, :mod:`.io` decodes and
aligns the two images, :mod:`.scoring` computes the metrics, and this module
turns them into :class:`~.results.PairResult` rows in pair order: device
choice, decode-ahead threads, same-size batches on CUDA and the
out-of-memory fallback. A pair that fails becomes an ``error`` row; the
batch goes on.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from .errors import IqaError, PairError, SizeMismatchError, UsageError
from .io import LoadedImage, PreparedPair, load_image, prepare_pair
from .pairing import Pair
from .priority import decode_nice, lower_priority
from .results import PairResult, Settings
from .spelling import in_context, spell
from .scoring import Scored, failure_reason, score_stack
from . import video_pairs
from .status import PairStatus


def resolve_device(spec: str = "cpu") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cpu``; ``cuda`` / ``cuda:N``.

    Raises :class:`UsageError` (one line) for an unavailable or unknown device.
    """
    spec = (spec or "cpu").strip().lower()
    name = spell("device")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UsageError(f"{name} {spec}: CUDA is not available on this machine (torch {torch.__version__})")
        try:
            dev = torch.device(spec)
        except RuntimeError:
            raise UsageError(f"{name} {spec}: not a valid device") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"{name} {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
        return dev
    raise UsageError(f"{name} {spec}: expected auto, cpu, cuda or cuda:N")


@dataclass
class Loaded:
    """A decoded, aligned pair (or the reason it could not be)."""

    pair: Pair
    prepared: PreparedPair | None = None
    integer: bool = False  # both files hold integer samples
    identical: bool = False  # byte-identical files
    error: IqaError | None = None
    images: tuple[LoadedImage, LoadedImage] | None = None  # the decoded files, kept for reports
    video: Any = None  # a pair of frame sequences, opened (video_pairs.VideoJob): scored there


MaskSpec = tuple[tuple[tuple[int, int, int, int], ...], "str | None"]  # regions, mask image or folder


def settings_mask(settings: Settings) -> Callable[[Pair], MaskSpec]:
    """The ignore regions and mask of every pair, from the settings."""
    return lambda pair: (settings.ignore, settings.mask)


def mask_file(pair: Pair, where: str) -> str | None:
    """The mask image for a pair: ``where`` itself, or in a folder the file at
    the pair's relative path (any image extension under ``--match stem``)."""
    if not os.path.isdir(where):
        return where
    base = os.path.join(where, *pair.key.split("/"))
    if os.path.isfile(base):
        return base
    stem = os.path.splitext(base)[0]
    for ext in (".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".jpg", ".jpeg"):
        if os.path.isfile(stem + ext):
            return stem + ext
    return None


def _ignore_mask(pair: Pair, spec: MaskSpec, height: int, width: int, notes: list[str]):
    """The pair's ignore mask (None: nothing ignored); a mask folder without a
    mask for this pair says so in ``notes``."""
    from .io.masks import combine, load_mask, regions_to_mask

    regions, where = spec
    parts = [regions_to_mask(regions, height, width)] if regions else []
    path = mask_file(pair, where) if where else None
    if path is not None:
        parts.append(load_mask(path, height, width))
    elif where:
        notes.append(f"no mask for {pair.key} in {where}: scored without a mask")
    return combine(*parts)


def load_pair(pair: Pair, settings: Settings, *, keep_images: bool = False,
              masks: Callable[[Pair], MaskSpec] | None = None) -> Loaded:
    """Decode and align both images of a pair (thread-safe; no torch).
    ``keep_images``: keep the decoded files for a report (for a pair with one
    side missing, the side that exists, when it can be read)."""
    if pair.problem:
        return Loaded(pair, error=PairError(pair.problem))
    if pair.reference is None or pair.distorted is None:
        if not keep_images:
            return Loaded(pair)
        path = pair.reference if pair.reference is not None else pair.distorted
        try:
            img = load_image(path, bit_depth=settings.bit_depth, data_range=settings.data_range,
                             exif_transpose=settings.exif_transpose,
                             **({"max_pixels": settings.max_pixels} if settings.max_pixels is not None else {}))
        except (IqaError, MemoryError):
            return Loaded(pair)
        return Loaded(pair, images=(img, None) if pair.reference is not None else (None, img))
    if video_pairs.is_sequence_pair(pair):  # videos, frame folders, animations: frame by frame
        return Loaded(pair, video=video_pairs.open_pair(pair, settings, *(masks or settings_mask(settings))(pair)))
    identical = pair.identical_files()
    try:
        kw = dict(bit_depth=settings.bit_depth, data_range=settings.data_range,
                  exif_transpose=settings.exif_transpose)
        if settings.max_pixels is not None:
            kw["max_pixels"] = settings.max_pixels
        ref: LoadedImage = load_image(pair.reference, **kw)
        dist: LoadedImage = ref if identical else load_image(pair.distorted, **kw)
        prepared = prepare_pair(ref, dist, alpha=settings.alpha)
        spec = (masks or settings_mask(settings))(pair)
        if spec[0] or spec[1]:
            try:
                prepared.ignore = _ignore_mask(pair, spec, prepared.height, prepared.width, prepared.warnings)
            except ValueError as e:  # a region outside the image, a mask of another size
                return Loaded(pair, error=IqaError(str(e)))
        integer = ref.pixels.dtype.kind in "ui" and dist.pixels.dtype.kind in "ui"
        return Loaded(pair, prepared, integer, identical, images=(ref, dist) if keep_images else None)
    except IqaError as e:  # byte-identical files keep saying so: `iqa check` passes them whatever the error
        return Loaded(pair, error=e, identical=identical)
    except MemoryError:
        return Loaded(pair, error=IqaError("out of memory while decoding", pair.distorted), identical=identical)


def score_prepared(
    prepared: PreparedPair,
    settings: Settings,
    device: torch.device,
    *,
    integer: bool = False,
    identical: bool = False,
    keep_maps: bool = False,
) -> Scored:
    """The requested metrics of one aligned pair (:func:`.scoring.score_stack` of one)."""
    return score_stack([prepared], settings, device, integer=integer, identical=identical, keep_maps=keep_maps)[0]


def _missing(pair: Pair) -> PairResult:
    ref = str(pair.reference) if pair.reference is not None else None
    dist = str(pair.distorted) if pair.distorted is not None else None
    if pair.reference is None:
        return PairResult(ref, dist, PairStatus.MISSING_REFERENCE, error=f"no reference for {pair.key}")
    return PairResult(ref, dist, PairStatus.MISSING_DISTORTED, error=f"no distorted image for {pair.key}")


def _open_row(loaded: Loaded) -> PairResult:
    """The row of a pair: finished (status set) for a missing file or a decode
    error, else with its geometry and decode warnings, ready for metrics."""
    pair = loaded.pair
    if pair.problem:
        paths = [str(p) for p in (pair.reference, pair.distorted) if p is not None]
        named = any(pair.problem.startswith(p + ": ") for p in paths)
        return PairResult(str(pair.reference) if pair.reference else None,
                          str(pair.distorted) if pair.distorted else None, PairStatus.ERROR,
                          error=pair.problem if named else f"{paths[0]}: {pair.problem}")
    if pair.reference is None or pair.distorted is None:
        row = _missing(pair)
        if loaded.images is not None:
            row.display = {"reference": loaded.images[0], "distorted": loaded.images[1]}
        return row
    row = PairResult(str(pair.reference), str(pair.distorted))
    if loaded.error is not None:
        mismatch = isinstance(loaded.error, SizeMismatchError)
        row.status = PairStatus.SIZE_MISMATCH if mismatch else PairStatus.ERROR
        row.error = loaded.error.reason if mismatch else str(loaded.error)
        row.identical = loaded.identical
        return row
    p = loaded.prepared
    assert p is not None
    row.width, row.height, row.channels = int(p.reference.shape[2]), int(p.reference.shape[1]), int(p.reference.shape[0])
    row.data_range = float(p.data_range)
    row.warnings = list(p.warnings)
    return row


def _close_row(row: PairResult, loaded: Loaded, settings: Settings, scored: Scored,
               required: frozenset[str] = frozenset()) -> PairResult:
    """Finish a scored row; a metric in ``required`` that could not be
    computed makes the row an ``error`` (the other values are kept)."""
    if loaded.identical:
        scored.notes.append("byte-identical files")
        row.identical = True
    row.metrics = {c: scored.values.get(c) for c in settings.columns}
    missing = [m for m in settings.metrics if m in required and m in scored.failed]
    if missing:
        row.status = PairStatus.ERROR
        row.error = f"{loaded.pair.distorted}: " + "; ".join(f"{m} not computed: {scored.failed[m]}" for m in missing)
        scored.notes = [n for n in scored.notes if not any(n.startswith(f"{m}: ") for m in missing)]
    row.warnings.extend(scored.notes)
    row.maps = scored.maps
    if loaded.images is not None:
        row.display = {"reference": loaded.images[0], "distorted": loaded.images[1]}
    return row


def score_loaded(loaded: Loaded, settings: Settings, device: torch.device, *, keep_maps: bool = False,
                 required: frozenset[str] = frozenset()) -> PairResult:
    """Turn a decoded pair into a result row (never raises for a bad pair)."""
    if loaded.video is not None:
        return video_pairs.score_pair(loaded.video, settings, device, keep_maps=keep_maps, required=required)
    row = _open_row(loaded)
    if row.status != PairStatus.OK:
        return row
    p = loaded.prepared
    assert p is not None
    try:
        scored = score_prepared(
            p, settings, device, integer=loaded.integer, identical=loaded.identical, keep_maps=keep_maps
        )
    except torch.cuda.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            scored = score_prepared(
                p, settings, torch.device("cpu"), integer=loaded.integer, identical=loaded.identical, keep_maps=keep_maps
            )
            scored.notes.append(f"out of GPU memory on {device}: scored on the CPU")
        else:  # pragma: no cover - torch raises this only for CUDA
            raise
    except (ValueError, RuntimeError, MemoryError) as e:
        row.status = PairStatus.ERROR
        row.error = f"{loaded.pair.distorted}: cannot score: {failure_reason(e)}"
        return row
    return _close_row(row, loaded, settings, scored, required)


def _group_key(loaded: Loaded) -> tuple | None:
    """Pairs with equal keys can be scored as one batch; None: score alone."""
    p = loaded.prepared
    if p is None or loaded.error is not None or loaded.identical or p.ignore is not None:
        return None
    return (p.reference.shape, p.reference.dtype.str, p.distorted.dtype.str, float(p.data_range), loaded.integer)


def score_group(group: list[Loaded], settings: Settings, device: torch.device, *, keep_maps: bool = False,
                required: frozenset[str] = frozenset()) -> list[PairResult]:
    """Score pairs with one :func:`_group_key` as one (N, C, H, W) batch. Out
    of memory: the group is halved until it fits (a single pair then falls
    back to the CPU, see :func:`score_loaded`); another failure: the pairs
    are scored one by one, so the error lands on its own pair."""
    if len(group) == 1:
        return [score_loaded(group[0], settings, device, keep_maps=keep_maps, required=required)]
    try:
        scored = score_stack(
            [g.prepared for g in group], settings, device, integer=group[0].integer, keep_maps=keep_maps  # type: ignore[misc]
        )
    except (torch.cuda.OutOfMemoryError, MemoryError):
        if device.type == "cuda":
            torch.cuda.empty_cache()
        half = len(group) // 2
        return score_group(group[:half], settings, device, keep_maps=keep_maps, required=required) + score_group(
            group[half:], settings, device, keep_maps=keep_maps, required=required
        )
    except (ValueError, RuntimeError):
        return [score_loaded(g, settings, device, keep_maps=keep_maps, required=required) for g in group]
    return [_close_row(_open_row(g), g, settings, sc, required) for g, sc in zip(group, scored)]


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
    required: Iterable[str] = (),
    masks: Callable[[Pair], MaskSpec] | None = None,
) -> Iterator[PairResult]:
    """Score pairs in order: up to ``workers`` decode in threads ahead of the
    computation, which runs on ``device`` in the calling thread. Consecutive
    decoded pairs of one shape, sample type and data range are scored
    together, up to ``batch`` pairs (default :func:`default_batch`) and
    :data:`BATCH_SAMPLES` reference samples; every metric is per image,
    so a pair's numbers do not depend on its neighbours beyond rounding.
    ``keep_maps``: each row also carries its SSIM map, changed-pixel mask
    and decoded images (``maps``, ``display``) for a report, so that no
    reporter decodes a file again. ``required``: metrics the caller asked for
    by name; a pair for which one cannot be computed is an ``error`` row.
    ``masks``: the ignore regions and mask image of each pair (default: the
    settings' ``ignore`` and ``mask``)."""
    required = frozenset(required)
    device = device or resolve_device(settings.device)
    pairs = list(pairs)
    workers = default_workers() if workers is None else max(1, int(workers))
    batch = default_batch(device) if batch is None else max(1, int(batch))
    ahead = max(2, 2 * workers)  # decoded pairs kept ready beyond the one (or the group) being scored
    nice = decode_nice()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iqa-decode",
                            initializer=lower_priority, initargs=(nice,)) as pool:
        futures: list[Future[Loaded] | None] = []
        decode = in_context(load_pair)  # messages spelled by the caller's front end

        def loaded_at(k: int) -> Loaded:
            while len(futures) < len(pairs) and len(futures) < k + ahead:
                futures.append(pool.submit(decode, pairs[len(futures)], settings, keep_images=keep_maps,
                                           masks=masks))
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
            results = score_group(group, settings, device, keep_maps=keep_maps, required=required)
            for k in range(i, i + len(group)):
                futures[k] = None  # free memory early
            i += len(group)
            yield from results
