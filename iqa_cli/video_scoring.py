"""Scoring two frame streams frame by frame with iqa's image metrics, and
pooling the per-frame values into one set per video.

:func:`score_frames` walks an :class:`~.io.frame_align.AlignPlan`: a
background thread decodes both streams and builds each pair's planes while
the calling thread scores the previous pair with :func:`.scoring.score_stack`
(the image path's own code, so a frame's numbers are exactly the image
API's on the same planes). It yields one :class:`FrameScore` per pair;
:class:`VideoPooler` accumulates them into :class:`VideoScores`
(:func:`score_video` does both).

Colour (``color``):

* ``"y"``: the Y plane as decoded, never through RGB. RGB sources (images,
  RGB video) take iqa's image conversion (BT.601 studio-swing Y, as ``--color
  y`` on images).
* ``"yuv"``: Y, U and V each scored at its own resolution (columns
  ``ssim_y``, ``ssim_u``, ``ssim_v``, ...), and the plain column (``ssim``)
  is "all": the mean of the planes weighted by their sample counts (4:2:0:
  4/6, 1/6, 1/6, as FFmpeg's ``ssim`` "All"); ``mse`` likewise, so ``psnr``
  "all" is the PSNR of that MSE (FFmpeg's ``psnr_avg``); count columns
  (``diff_pixels``) add up; ``ssim_min`` is the worst plane's. YUV sources only.
* ``"rgb"``: R, G, B from the stream's matrix and range (:mod:`.io.yuv`);
  ``"gray"``: MATLAB ``rgb2gray`` of that RGB.

Two YUV videos of different bit depths are put on the larger one: limited
range by ``2^(B - b)`` (BT.2100: 8-bit 16..235 is 10-bit 64..940), full range
and RGB by ``(2^B - 1) / (2^b - 1)`` (iqa's image rule); with a note.
"""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np
import torch

from .errors import PairError, UsageError
from .formatting import json_number
from .io import LoadedImage, PreparedPair, prepare_pair
from .io.frame_align import AlignPlan, FramePair
from .io.stream import Frame
from .metrics import pooling
from .metrics.protocols.table import get_protocol
from .metrics.registry import COLUMN_INFO, COLUMNS, METRICS
from .results import SCHEMA, Settings
from .priority import lower_priority
from .scoring import score_stack
from .spelling import in_context, spell

VIDEO_COLORS = ("y", "yuv", "rgb", "gray")
PLANES = ("y", "u", "v")


@dataclass
class FrameScore:
    """The numbers of one frame pair.

    ``values``: metric columns (for ``yuv`` also ``<column>_y/_u/_v``);
    ``sse``/``samples``: the squared error and sample count behind ``mse``
    per column key ("" for the plain column, "_y"... for planes), for
    :func:`~.metrics.pooling.psnr_total`.
    """

    pair: int  # position in the plan
    ref: int  # reference frame index
    dist: int  # distorted frame index
    time: float | None  # the reference frame's time in seconds (None: untimed folder)
    values: dict[str, float | int | None] = field(default_factory=dict)
    sse: dict[str, float] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    identical: bool = False  # the frames' samples are equal
    #: the planes as scored (``score_frames(keep_planes=True)``), for a picture of this frame; never serialised
    planes: "_Work | None" = field(default=None, repr=False, compare=False)

    def to_json(self, pair: str) -> dict:
        """The JSONL row of issue 23: ``{"schema", "type": "frame", "pair": <the
        pair's reference path>, "frame": <0-based reference index>, "time":
        <seconds or null>, "metrics": {...}}`` (strict JSON numbers)."""
        return {"schema": SCHEMA, "type": "frame", "pair": pair, "frame": self.ref, "time": self.time,
                "metrics": {k: json_number(v) for k, v in self.values.items()}}


# ---------------------------------------------------------------------------- preparing one pair

@dataclass(frozen=True)
class _Route:
    kind: str  # "planes" (native planes), "rgb" (RGB of video frames), "image" (prepare_pair)
    color: str  # the colour setting score_stack gets
    scale: tuple[float, float] = (1.0, 1.0)  # ref, dist factors onto the common range
    data_range: float = 255.0
    notes: tuple[str, ...] = ()


def _route(ref, dist, color: str) -> _Route:
    """How frames of these two streams become planes for ``color``."""
    if color not in VIDEO_COLORS:
        raise ValueError(f"color must be one of {', '.join(VIDEO_COLORS)}, not {color!r}")
    ri, di = ref.info, dist.info
    video = ("yuv", "gray", "rgb")
    notes: list[str] = []
    if color == "yuv" and not (ri.layout == di.layout == "yuv"):
        other = ri if ri.layout != "yuv" else di
        raise UsageError(f"{spell('color')} yuv needs YUV video on both sides; {other.path} is "
                         f"{'RGB' if other.layout in ('rgb', 'image') else other.layout}")
    if color == "yuv" and ri.yuv.subsampling != di.yuv.subsampling:
        raise PairError(f"chroma subsampling differs ({ri.pix_fmt} vs {di.pix_fmt}): "
                        f"{spell('color')} yuv compares planes of one size; use y or rgb")
    if ri.layout in video and di.layout in video:
        big, small = max(ri.bit_depth, di.bit_depth), min(ri.bit_depth, di.bit_depth)
        L = float(2**big - 1)
        planes = color in ("y", "yuv") and ri.layout in ("yuv", "gray") and di.layout in ("yuv", "gray")
        if planes:
            limited = all(i.yuv is None or i.yuv.range == "limited" for i in (ri, di))
            f = [float(2 ** (big - i.bit_depth)) if limited else L / float(2**i.bit_depth - 1) for i in (ri, di)]
            if ri.yuv and di.yuv and ri.yuv.range != di.yuv.range:
                notes.append(f"colour ranges differ (reference {ri.yuv.range}, distorted {di.yuv.range}): "
                             "planes compared as stored")
        else:
            f = [L / float(2**i.bit_depth - 1) for i in (ri, di)]
        if big != small:
            role = "reference" if ri.bit_depth == small else "distorted"
            how = f"x{int(max(f))}" if float(max(f)).is_integer() else f"x{max(f):.6g}"
            notes.append(f"{role} is {small}-bit, the other {big}-bit: {role} scaled onto 0..{L:g} ({how})")
        if planes:
            return _Route("planes", "rgb", (f[0], f[1]), L, tuple(notes))
        return _Route("rgb", color, (f[0], f[1]), L, tuple(notes + _rgb_notes(ri, di)))
    return _Route("image", color, (1.0, 1.0), max(ri.data_range, di.data_range), tuple(notes + _rgb_notes(ri, di)))


def _rgb_notes(ri, di) -> list[str]:
    """Which matrix and range made the RGB of each YUV stream (one note when both agree)."""
    said = {role: i.yuv.describe() for i, role in ((ri, "reference"), (di, "distorted")) if i.layout == "yuv"}
    if len(said) == 2 and said["reference"] == said["distorted"]:
        return [f"RGB of both from {said['reference']}"]
    return [f"{role} RGB from {text}" for role, text in said.items()]


def _scaled(a: np.ndarray, f: float) -> np.ndarray:
    if f == 1.0:
        return a
    return a.astype(np.float64) * f


def _storage(a: np.ndarray) -> np.ndarray:
    # as prepare_pair stores samples: uint8 and floats as they are, uint16 as float32 (exact)
    return a.astype(np.float32) if a.dtype == np.uint16 else a


def _same_dtype(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.dtype != b.dtype:
        return a.astype(np.float64), b.astype(np.float64)
    return a, b


def _as_image(frame: Frame, path: str, data_range: float) -> LoadedImage:
    if frame.image is not None:
        return frame.image
    return LoadedImage(path=path, pixels=np.ascontiguousarray(np.moveaxis(frame.rgb(), 0, 2)),
                       data_range=data_range, has_alpha=False)


@dataclass
class _Work:
    """One pair ready to score: prepared planes (one entry per scored plane)."""

    fp: FramePair
    pos: int
    preps: list[tuple[str, PreparedPair]]  # (column suffix, pair): ("", ...) or ("_y", ...), ...
    identical: bool
    notes: list[str]
    integer: bool = True  # both frames hold integer samples (rounding of the Y conversion)


def _prepare(fp: FramePair, pos: int, rf: Frame, df: Frame, route: _Route, color: str,
             ref_path: str, dist_path: str) -> _Work:
    notes: list[str] = []
    if route.kind == "planes":
        sr, sd = route.scale
        names = ("_y", "_u", "_v") if color == "yuv" else ("",)
        preps = []
        same = True
        for k, suffix in enumerate(names):
            a, b = rf.planes[k], df.planes[k]
            same = same and a.shape == b.shape and sr == sd and np.array_equal(a, b)
            a, b = _same_dtype(_storage(_scaled(a, sr)), _storage(_scaled(b, sd)))
            preps.append((suffix, PreparedPair(np.ascontiguousarray(a[None]), np.ascontiguousarray(b[None]),
                                               route.data_range)))
        return _Work(fp, pos, preps, same, notes)
    if route.kind == "rgb":
        sr, sd = route.scale
        a, b = rf.rgb(), df.rgb()
        same = sr == sd and np.array_equal(a, b)
        a, b = _same_dtype(_storage(_scaled(a, sr)), _storage(_scaled(b, sd)))
        return _Work(fp, pos, [("", PreparedPair(a, b, route.data_range))], same, notes)
    ri = _as_image(rf, ref_path, rf.data_range)
    di = _as_image(df, dist_path, df.data_range)
    prep = prepare_pair(ri, di)
    notes += [w for w in prep.warnings if not w.startswith(("reference: ", "distorted: "))]
    same = prep.reference.dtype == prep.distorted.dtype and np.array_equal(prep.reference, prep.distorted)
    integer = ri.pixels.dtype.kind in "ui" and di.pixels.dtype.kind in "ui"
    return _Work(fp, pos, [("", prep)], same, notes, integer)


# ---------------------------------------------------------------------------- the decode thread

_DONE = object()

def _produce(ref, dist, plan: AlignPlan, route: _Route, color: str, out: queue.Queue, stop: threading.Event):
    """Decode both streams in plan order and queue prepared pairs (or the exception)."""
    lower_priority()  # FFmpeg's decoder threads, created by this one, inherit it
    try:
        ref_it, dist_it = iter(ref.frames()), iter(dist.frames())
        rf = df = None
        for pos, fp in enumerate(plan.pairs):
            while rf is None or rf.index < fp.ref:
                rf = next(ref_it)
            while df is None or df.index < fp.dist:
                df = next(dist_it)
            work = _prepare(fp, pos, rf, df, route, color, ref.info.path, dist.info.path)
            while not stop.is_set():
                try:
                    out.put(work, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        item = _DONE
    except BaseException as e:  # noqa: BLE001 -- handed to the scoring thread
        item = e
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _prepared(ref, dist, plan, route, color, ahead: int) -> Iterator[_Work]:
    """Prepared pairs from a background thread, ``ahead`` of the scoring."""
    q: queue.Queue = queue.Queue(maxsize=max(1, ahead))
    stop = threading.Event()
    t = threading.Thread(target=in_context(_produce), args=(ref, dist, plan, route, color, q, stop),
                         name="iqa-video-decode", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=10)


# ---------------------------------------------------------------------------- scoring

def _all(values_by_plane: dict[str, dict], weights: dict[str, int], columns: list[str]) -> dict[str, float | None]:
    """The pixel-weighted "all" of each column (see the module docstring)."""
    out: dict[str, float | None] = {}
    total = sum(weights.values())
    for col in columns:
        vals = {p: v.get(col) for p, v in values_by_plane.items()}
        if any(v is None for v in vals.values()):
            out[col] = None
        elif COLUMN_INFO[col].format == "count":
            out[col] = int(sum(vals.values()))
        elif col == "ssim_min":
            out[col] = min(vals.values())
        elif col == "psnr":  # from the summed squared errors, in score_frames
            continue
        else:
            out[col] = sum(vals[p] * weights[p] for p in vals) / total
    return out


def _samples(prep: PreparedPair, crop: int) -> int:
    c, h, w = prep.reference.shape
    return c * max(0, h - 2 * crop) * max(0, w - 2 * crop)


def score_frames(ref, dist, plan: AlignPlan, settings: Settings, *, color: str = "y",
                 device: torch.device | str = "cpu", batch: int = 1, ahead: int = 4,
                 keep_planes: bool = False) -> Iterator[FrameScore]:
    """Score the pairs of ``plan`` (sources from :func:`~.io.frames.open_stream`),
    one :class:`FrameScore` per pair in plan order.

    ``settings``: the image settings (metrics and their options, tolerance,
    crop border, protocol; its ``color`` is ignored: ``color`` here is one of
    :data:`VIDEO_COLORS`). ``batch`` frames of one shape are scored as one
    stack (useful on CUDA). ``ahead``: prepared pairs the decode thread may
    hold. ``keep_planes``: each row also holds the planes it was scored on
    (:attr:`FrameScore.planes`; drop those you do not keep, see
    :func:`frame_pictures`).

    Raises:
        UsageError: a setting video scoring does not support (ignore
            regions and masks; another protocol on native planes).
        PairError, VideoError: incompatible streams, undecodable frames.
    """
    if settings.ignore or settings.mask:
        raise UsageError(f"{spell('ignore')} regions and masks are not supported for video yet")
    route = _route(ref, dist, color)
    if route.kind == "planes" and not get_protocol(settings.protocol).native:
        raise UsageError(f"{spell('protocol')} {settings.protocol} converts RGB itself: use {spell('color')} rgb "
                         "with it on video (native planes follow Wang's definitions)")
    device = torch.device(device)
    want = list(settings.metrics)
    metrics = tuple(want + ["mse"]) if "psnr" in want and "mse" not in want else tuple(want)
    run = replace(settings, metrics=metrics, color=route.color)  # mse also for psnr: its SSE is pooled
    columns = list(run.columns)
    out_columns = set(settings.columns)
    L = route.data_range
    crop = settings.crop_border
    pending: list[_Work] = []

    def flush() -> Iterator[FrameScore]:
        # one score_stack call per plane suffix for the pending frames of one shape
        by_plane: dict[int, dict[str, tuple]] = {w.pos: {} for w in pending}
        suffixes = [s for s, _ in pending[0].preps]
        for k, suffix in enumerate(suffixes):
            preps = [w.preps[k][1] for w in pending]
            integer = pending[0].integer
            if len(pending) == 1:
                scored = score_stack(preps, run, device, integer=integer, identical=pending[0].identical)
            else:
                scored = score_stack(preps, run, device, integer=integer)
            for w, s in zip(pending, scored):
                by_plane[w.pos][suffix] = (s, _samples(w.preps[k][1], crop))
        for w in pending:
            fs = FrameScore(pair=w.pos, ref=w.fp.ref, dist=w.fp.dist,
                            time=float(w.fp.time) if plan.timed else None, identical=w.identical,
                            notes=list(w.notes), planes=w if keep_planes else None)
            planes = by_plane[w.pos]
            for suffix, (s, n) in planes.items():
                for col in columns:
                    if col in out_columns:
                        fs.values[col + suffix] = s.values.get(col)
                if s.values.get("mse") is not None:
                    fs.sse[suffix] = float(s.values["mse"]) * n
                    fs.samples[suffix] = n
                for name, reason in s.failed.items():
                    fs.failed[name + suffix] = reason
                for note in s.notes:
                    if note not in fs.notes:
                        fs.notes.append(note if not suffix else f"{suffix[1:].upper()}: {note}")
            if color == "yuv":
                weights = {p: n for p, (_, n) in planes.items()}
                merged = _all({p: s.values for p, (s, _) in planes.items()}, weights, columns)
                for col, v in merged.items():
                    if col == "psnr":
                        continue
                    if col in out_columns:
                        fs.values[col] = v
                if all(p in fs.sse for p in planes):
                    fs.sse[""] = sum(fs.sse[p] for p in planes)
                    fs.samples[""] = sum(fs.samples[p] for p in planes)
                if "psnr" in out_columns:
                    fs.values["psnr"] = pooling.psnr_total(fs.sse[""], fs.samples[""], L) if "" in fs.sse else None
            yield fs
        pending.clear()

    for work in _prepared(ref, dist, plan, route, color, ahead):
        if pending and (len(pending) >= max(1, batch) or _shape_key(pending[0]) != _shape_key(work)
                        or work.identical or pending[0].identical):
            yield from flush()
        pending.append(work)
        if max(1, batch) == 1 or work.identical:
            yield from flush()
    if pending:
        yield from flush()


def _shape_key(w: _Work) -> tuple:
    return (w.integer,) + tuple((p.reference.shape, p.reference.dtype.str, p.distorted.dtype.str)
                                for _, p in w.preps)


# ---------------------------------------------------------------------------- pooling

@dataclass
class VideoScores:
    """Per-frame scores of one video pair and their pools.

    ``pooled``: column -> :class:`~.metrics.pooling.Pooled` (PSNR columns over
    the capped per-frame values). ``psnr_mean_db``/``psnr_total``: key ""
    (the plain column) and "_y", "_u", "_v" under ``yuv``. ``worst``: column
    -> the :class:`FrameScore` of its worst frame.
    """

    frames: list[FrameScore]
    columns: list[str]
    pooled: dict[str, pooling.Pooled]
    psnr_mean_db: dict[str, pooling.PsnrMean]
    psnr_total: dict[str, float]
    cap_db: float
    data_range: float
    notes: list[str]
    #: the worst frame of one column, with its planes' pictures (``score_video(picture=...)``)
    picture: "FramePicture | None" = None

    def worst(self, column: str, k: int = 1) -> list[FrameScore]:
        """The ``k`` worst frames of ``column`` (worst first; NaN and None
        left out; none for a metric without a better direction, like TV)."""
        direction = METRICS[COLUMNS[_base(column)]].direction
        if direction not in (pooling.HIGHER, pooling.LOWER):
            return []
        vals = [(f.values.get(column), f) for f in self.frames]
        vals = [(v, f) for v, f in vals if v is not None and not math.isnan(v)]
        if column.startswith("psnr"):
            vals = [(min(v, self.cap_db), f) for v, f in vals]
        sign = 1.0 if direction == pooling.HIGHER else -1.0
        vals.sort(key=lambda vf: (sign * vf[0], vf[1].pair))
        return [f for _, f in vals[:k]]

    def pair_metrics(self, pool: str = "mean") -> dict[str, float | None]:
        """One value per column, pooled by ``pool`` (one of
        :data:`~.metrics.pooling.POOLS`), plus ``psnr_mean_db`` and
        ``psnr_total`` (and ``psnr_mean_db_y``... under ``yuv``)."""
        out: dict[str, float | None] = {c: self.pooled[c].get(pool) for c in self.columns}
        for key, pm in self.psnr_mean_db.items():
            out["psnr_mean_db" + key] = pm.value
        for key, v in self.psnr_total.items():
            out["psnr_total" + key] = v
        return out


def _base(column: str) -> str:
    for suffix in ("_y", "_u", "_v"):
        if column.endswith(suffix) and column[: -len(suffix)] in COLUMNS:
            return column[: -len(suffix)]
    return column


class VideoPooler:
    """Accumulates :class:`FrameScore` s into :class:`VideoScores`."""

    def __init__(self, settings: Settings, color: str, data_range: float, bit_depth: int,
                 cap_db: float | None = None):
        self.settings = settings
        self.color = color
        self.data_range = float(data_range)
        self.cap_db = pooling.psnr_cap(bit_depth) if cap_db is None else float(cap_db)
        self.frames: list[FrameScore] = []

    def add(self, fs: FrameScore) -> None:
        self.frames.append(fs)

    def result(self) -> VideoScores:
        base = self.settings.columns
        suffixes = [""] + (["_y", "_u", "_v"] if self.color == "yuv" else [])
        columns = [c + s for c in base for s in suffixes]
        pooled: dict[str, pooling.Pooled] = {}
        for col in columns:
            direction = METRICS[COLUMNS[_base(col)]].direction
            vals = [f.values.get(col) for f in self.frames]
            if _base(col) == "psnr":
                vals = pooling.capped(vals, self.cap_db)
            pooled[col] = pooling.pool_all(vals, direction)
        pmean: dict[str, pooling.PsnrMean] = {}
        ptotal: dict[str, float] = {}
        if "psnr" in self.settings.metrics or "mse" in self.settings.metrics:
            for s in suffixes:
                if self.frames and all(s in f.sse for f in self.frames):
                    mses = [f.sse[s] / f.samples[s] for f in self.frames]
                    pmean[s] = pooling.psnr_mean_db(mses, self.data_range, self.cap_db)
                    ptotal[s] = pooling.psnr_total(sum(f.sse[s] for f in self.frames),
                                                   sum(f.samples[s] for f in self.frames), self.data_range)
        notes: list[str] = []
        counts: dict[str, int] = {}
        for f in self.frames:
            for n in f.notes:
                counts[n] = counts.get(n, 0) + 1
        for n, c in counts.items():
            notes.append(n if c == len(self.frames) else f"{n} ({c} of {len(self.frames)} frames)")
        return VideoScores(self.frames, columns, pooled, pmean, ptotal, self.cap_db, self.data_range, notes)


# ---------------------------------------------------------------------------- the worst frame's picture

@dataclass
class FramePicture:
    """The worst frame of ``column``: its SSIM map and changed-pixel mask
    (``maps``, as the image runner keeps them) and the two planes it was
    scored on (``reference``, ``distorted``: :class:`~.io.LoadedImage`, (H, W, C)
    at the scored data range; Y alone under ``y`` and ``yuv``)."""

    frame: FrameScore
    column: str
    maps: dict
    reference: LoadedImage
    distorted: LoadedImage


def _rank(column: str, cap_db: float):
    """A sort key of frames by ``column``, smallest = worst; None for a metric without a direction."""
    direction = METRICS[COLUMNS[_base(column)]].direction
    if direction not in (pooling.HIGHER, pooling.LOWER):
        return None
    sign = 1.0 if direction == pooling.HIGHER else -1.0
    capped = _base(column) == "psnr"

    def key(fs: FrameScore) -> float:
        v = fs.values.get(column)
        if v is None or math.isnan(v):
            return math.inf  # never the worst
        return sign * (min(v, cap_db) if capped else v)

    return key


def _picture(fs: FrameScore, column: str, settings: Settings, route: _Route, device) -> FramePicture:
    """Score the kept planes of ``fs`` once more, with maps (nothing is decoded again)."""
    work = fs.planes
    assert work is not None
    suffix = column[len(_base(column)):]
    preps = dict(work.preps)
    prep = preps.get(suffix, work.preps[0][1])
    run = replace(settings, metrics=("mse",), color=route.color)  # maps come with any metric
    scored = score_stack([prep], run, torch.device(device), integer=work.integer, identical=work.identical,
                         keep_maps=True)[0]

    def image(a: np.ndarray, role: str) -> LoadedImage:
        hwc = np.ascontiguousarray(np.moveaxis(a, 0, 2))
        return LoadedImage(path=role, pixels=hwc, data_range=float(prep.data_range),
                           has_alpha=hwc.shape[2] in (2, 4))

    return FramePicture(fs, column, scored.maps or {}, image(prep.reference, "reference"),
                        image(prep.distorted, "distorted"))


def score_video(ref, dist, plan: AlignPlan, settings: Settings, *, color: str = "y",
                device: torch.device | str = "cpu", batch: int = 1, cap_db: float | None = None,
                on_frame=None, picture: str | None = None) -> VideoScores:
    """:func:`score_frames` and :class:`VideoPooler` in one call; ``on_frame``
    (optional) receives each :class:`FrameScore` as it is computed.
    ``picture``: a column whose worst frame keeps its planes and gets its
    maps (:attr:`VideoScores.picture`; that frame is scored once more, never
    decoded again)."""
    route = _route(ref, dist, color)
    bits = max(ref.info.bit_depth, dist.info.bit_depth) or 8
    pooler = VideoPooler(settings, color, route.data_range, bits, cap_db)
    rank = _rank(picture, pooler.cap_db) if picture else None
    kept: FrameScore | None = None
    for fs in score_frames(ref, dist, plan, settings, color=color, device=device, batch=batch,
                           keep_planes=rank is not None):
        if rank is not None:
            if kept is None or rank(fs) < rank(kept):  # ties keep the first
                if kept is not None:
                    kept.planes = None
                kept = fs
            else:
                fs.planes = None
        pooler.add(fs)
        if on_frame is not None:
            on_frame(fs)
    result = pooler.result()
    result.notes[:0] = list(route.notes) + list(plan.notes)
    if kept is not None and picture is not None:
        result.picture = _picture(kept, picture, settings, route, device)
        kept.planes = None
    return result
