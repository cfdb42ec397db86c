"""One pair of frame sequences scored into one result row.

A pair is a frame-sequence pair when either file is a video (by extension),
a folder of numbered frames or an animated GIF, PNG or WebP
(:func:`is_sequence_pair`); the other side may be any of those or a still
image (a stream of one frame). The runner hands such a pair here instead of
to the image path:

* :func:`open_pair` (in a decode thread) opens both streams, pairs their
  frames by time under the ``frames`` and ``offset`` settings, runs the
  offset search when ``find_offset`` asks for it and the one-frame-shift
  check. A pairing that cannot be made or is refused is a *mismatch*: like
  a size mismatch, the row says why and counts as a regression (``iqa
  check`` fails it, and ``--update`` may take the new output).
* :func:`score_pair` (in the scoring thread) scores every frame pair
  (:func:`~.video_scoring.score_video`, whose own thread decodes ahead) and
  builds the row: ``metrics`` hold each column pooled by the ``pool``
  setting plus ``psnr_mean_db`` and ``psnr_total``; ``video`` holds every
  pool and the worst frame of each column; ``frames`` the per-frame rows
  (for ``--per-frame`` and the reports, never in the pair object); with
  ``keep_maps`` the worst frame's planes and maps (``display``, ``maps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import torch

from .errors import IqaError, PairError, SizeMismatchError, UsageError
from .formatting import json_number
from .io.frame_align import OFFSET_MARGIN_DB, AlignmentError, AlignPlan, check_sync, find_offset, plan_pairs
from .io.frames import is_sequence, open_stream
from .io.image import DEFAULT_MAX_PIXELS
from .metrics.registry import HIGHER, LOWER, METRICS
from .pairing import Pair
from .results import FRAME_MISMATCH, PairResult, Settings
from .scoring import failure_reason
from .spelling import spell
from .status import PairStatus
from .video_scoring import FrameScore, VideoScores, score_video


def is_sequence_pair(pair: Pair) -> bool:
    """Either file of ``pair`` is a frame sequence (a video, a folder of
    frames, an animation); reads at most a GIF/PNG/WebP header."""
    return any(p is not None and is_sequence(p) for p in (pair.reference, pair.distorted))


@dataclass
class VideoJob:
    """A sequence pair opened and paired in a decode thread, ready to score
    (or the reason it cannot be: ``error``; ``mismatch``: the two do not pair
    up, a regression like a size mismatch)."""

    pair: Pair
    ref: Any = None
    dist: Any = None
    plan: AlignPlan | None = None
    notes: list[str] = field(default_factory=list)
    error: IqaError | None = None
    mismatch: bool = False
    identical: bool = False


def _stream_notes(job: VideoJob) -> list[str]:
    out = []
    for role, src in (("reference", job.ref), ("distorted", job.dist)):
        if src is not None:
            out += [f"{role}: {n}" for n in src.info.notes]
    return out


def _search(job: VideoJob, radius: int) -> None:
    """``find_offset``: a pair whose offset is not the best one is refused,
    naming the best; otherwise the search is a note."""
    used = job.plan.offset if job.plan is not None else 0
    try:
        found = find_offset(job.ref, job.dist, search=radius)
    except AlignmentError as e:
        job.notes.append(f"offset not searched: {e.reason}")
        return
    table = found.table
    if used not in table:
        job.notes.append(f"offset search {-found.search}..{found.search} does not reach {spell('offset')} "
                         f"{used}: {found.describe()}")
        return
    if found.best != used and table[found.best] - table[used] >= OFFSET_MARGIN_DB:
        job.error = AlignmentError(
            f"offset search: distorted frame i{found.best:+d} matches reference frame i best "
            f"({table[found.best]:.2f} dB mean PSNR on Y, {table[used]:.2f} dB at {spell('offset')} {used}); set "
            f"{spell('offset')} {found.best}; {found.describe()}")
        job.mismatch = True
        return
    job.notes.append(f"offset search: {found.describe()}")


def open_pair(pair: Pair, settings: Settings, regions: tuple = (), mask: str | None = None) -> VideoJob:
    """Open, pair and check the frames of a sequence pair (thread-safe; the
    frames are decoded later, by :func:`score_pair`). Never raises for a
    bad pair: the job carries the error."""
    job = VideoJob(pair)
    ref_path, dist_path = str(pair.reference), str(pair.distorted)
    job.identical = pair.identical_files()
    if regions or mask:
        job.error = UsageError(f"{spell('ignore')} regions and {spell('mask')} images do not apply to video yet",
                               dist_path)
        return job
    opts = dict(bit_depth=settings.bit_depth, data_range=settings.data_range, exif_transpose=settings.exif_transpose,
                max_pixels=settings.max_pixels if settings.max_pixels is not None else DEFAULT_MAX_PIXELS)
    try:
        job.ref = open_stream(ref_path, **opts)
        job.dist = job.ref if job.identical else open_stream(dist_path, **opts)
        job.plan = plan_pairs(job.ref.info, job.dist.info, frames=settings.frames, offset=settings.offset)
        if not job.identical:
            if settings.find_offset:
                _search(job, settings.find_offset)
                if job.error is not None:
                    return job
            sync = check_sync(job.ref, job.dist, job.plan)
            if sync.verdict == "unchecked" and sync.note and not sync.note.startswith("fewer than"):
                job.notes.append(f"one-frame shift check: {sync.note}")  # a short clip needs no note
    except (AlignmentError, SizeMismatchError) as e:  # the frames do not pair up: a regression, as sizes
        job.error, job.mismatch = e, True
    except IqaError as e:
        job.error = e
    except MemoryError:
        job.error = IqaError("out of memory while opening", dist_path)
    return job


def _focus(settings: Settings, required: Iterable[str]) -> str | None:
    """The column whose worst frame a report pictures: the first metric of
    the run (in its order) that the caller requires (a gate's), else the
    first with a better direction."""
    needed = set(required)
    for name in [*(m for m in settings.metrics if m in needed), *settings.metrics]:
        info = METRICS.get(name)
        if info is not None and info.direction in (HIGHER, LOWER):
            return info.columns[0].name
    return None


def _error_row(job: VideoJob) -> PairResult:
    row = PairResult(str(job.pair.reference), str(job.pair.distorted))
    e = job.error
    assert e is not None
    row.status = PairStatus.SIZE_MISMATCH if job.mismatch else PairStatus.ERROR
    if not job.mismatch:
        row.error = str(e)
    elif isinstance(e, SizeMismatchError):
        row.error = e.reason  # "size mismatch: ...", as for images
    else:  # the prefix tells a regression from an error on the wire (iqa merge reads it back)
        row.error = f"{FRAME_MISMATCH} {e.reason}"
    row.identical = job.identical
    row.warnings = _stream_notes(job) + job.notes
    return row


def _frame_json(fs: FrameScore) -> dict[str, Any]:
    return {"frame": fs.ref, "distorted_frame": fs.dist, "time": fs.time}


def video_summary(res: VideoScores, job: VideoJob, columns: list[str]) -> dict[str, Any]:
    """The pair's ``video`` object (JSON-ready): counts, rate, every pool and
    the worst frame of each column with a better direction."""
    ri, di = job.ref.info, job.dist.info
    timed = job.plan is not None and job.plan.timed
    out: dict[str, Any] = {
        "frames": len(res.frames),
        "reference_frames": ri.frame_count,
        "distorted_frames": di.frame_count,
        "frame_rate": float(ri.frame_rate) if ri.timed and ri.frame_rate else None,
        "duration": float(ri.duration) if ri.timed and ri.interval else None,
        "timed": bool(timed),
    }
    if "psnr" in res.columns:
        out["psnr_cap_db"] = res.cap_db
        out["frames_at_cap"] = res.psnr_mean_db[""].capped_frames if "" in res.psnr_mean_db else 0
    pools, worst = {}, {}
    for col in columns:
        pooled = res.pooled.get(col)
        if pooled is None:
            continue
        pools[col] = {k: json_number(v) for k, v in pooled.as_dict().items()}
        frames = res.worst(col, 1)
        if frames:
            worst[col] = {**_frame_json(frames[0]), "value": json_number(frames[0].values.get(col))}
    out["pools"] = pools
    out["worst"] = worst
    return out


def score_pair(job: VideoJob, settings: Settings, device: torch.device, *, keep_maps: bool = False,
               required: frozenset[str] = frozenset()) -> PairResult:
    """Score an opened sequence pair into its row (never raises for a bad pair)."""
    if job.error is not None:
        return _error_row(job)
    row = PairResult(str(job.pair.reference), str(job.pair.distorted))
    row.identical = job.identical
    focus = _focus(settings, required) if keep_maps else None
    try:
        res = score_video(job.ref, job.dist, job.plan, settings, color=settings.color, device=device,
                          picture=focus)
    except (IqaError, PairError) as e:
        job.error = e
        return _error_row(job)
    except (ValueError, RuntimeError, MemoryError) as e:
        job.error = IqaError(f"cannot score: {failure_reason(e)}", str(job.pair.distorted))
        return _error_row(job)
    info = job.ref.info
    row.width, row.height = info.width, info.height
    row.channels = {"y": 1, "gray": 1}.get(settings.color, 3)
    row.data_range = res.data_range
    pooled = res.pair_metrics(settings.pool)
    columns = settings.video_columns
    row.metrics = {c: pooled.get(c) for c in columns}
    row.warnings = _stream_notes(job) + list(res.notes) + job.notes
    if job.identical:
        row.warnings.append("byte-identical files")
    pm = res.psnr_mean_db.get("")
    if "psnr" in settings.metrics and pm is not None and pm.capped_frames:
        row.warnings.append(f"psnr: {pm.capped_frames} of {pm.n} frames at or above the {res.cap_db:g} dB cap "
                            "(identical or nearly): counted at the cap in psnr_mean_db and the pooled psnr")
    failed = {m: r for f in res.frames for m, r in f.failed.items()}
    missing = [m for m in settings.metrics if m in required and m in failed
               and all(row.metrics.get(c) is None for c in METRICS[m].column_names)]
    if missing:
        row.status = PairStatus.ERROR
        row.error = f"{job.pair.distorted}: " + "; ".join(f"{m} not computed: {failed[m]}" for m in missing)
        row.warnings = [w for w in row.warnings if not any(w.startswith(f"{m}: ") for m in missing)]
    row.video = video_summary(res, job, [c for c in columns if c in res.pooled])
    row.frames = res.frames
    if res.picture is not None:
        pic = res.picture
        row.maps = dict(pic.maps)
        row.display = {"reference": pic.reference, "distorted": pic.distorted}
        row.video["pictured"] = {**_frame_json(pic.frame), "column": pic.column}
    return row


__all__ = ["VideoJob", "is_sequence_pair", "open_pair", "score_pair", "video_summary"]
