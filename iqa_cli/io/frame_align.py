"""Pairing the frames of two streams: :func:`plan_pairs` (which reference
frame is scored against which distorted frame), :func:`check_sync` (refuse a
pairing that is visibly one frame off) and :func:`find_offset` (search the
shift that matches best; reported, never applied by itself).

Rules of :func:`plan_pairs`:

* Each stream's start is reset: times count from its own first frame. The
  ``offset`` N shifts the distorted stream by N of its frame intervals:
  distorted frame i + N is paired with reference frame i (N > 0: the
  distorted stream starts N frames late).
* **Same frame rate** (nominal intervals within one time-base tick): frames
  are paired when their times are equal to within half an interval. Nothing
  is ever repeated or interpolated.

  - ``frames="exact"`` (the default): every frame of both streams must be
    paired, except the N frames the offset moves before the other stream's
    start (and the N at the other end). Anything else -- different counts, a
    dropped frame, a gap in the timestamps -- is an :class:`AlignmentError`
    naming the first unpaired frames and the settings that resolve it.
  - ``frames="overlap"``: the frames present in both are scored; the others
    are left out and counted in the plan's notes. No pair at all is an error.
  - ``frames="ref"``: every reference frame must be scored; a reference frame
    without a distorted frame at its time is an error naming those frames
    (the distorted stream is never padded by repeating a frame). Extra
    distorted frames are left out, with a note.
* **Different frame rates** (or a variable-rate stream whose times do not
  match): an error unless ``frames`` is ``"overlap"`` or ``"ref"``; then each
  reference frame is paired with the distorted frame *on screen* at its time
  (the latest distorted frame whose time is not after it, while that frame
  lasts), and the notes say how many distorted frames were used more than
  once and how many were never shown. ``ref`` requires every reference frame
  to fall within the distorted stream's span; ``overlap`` drops those outside.
* A folder of frames without a frame rate takes the other stream's interval;
  two such folders pair by frame number.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Iterator

import numpy as np

from ..errors import PairError, SizeMismatchError
from ..metrics.registry import psnr_cap
from ..spelling import spell
from .stream import Frame, StreamInfo

FRAME_MODES = ("exact", "overlap", "ref")


class AlignmentError(PairError):
    """The frames of two streams cannot be paired as asked (one line, naming
    the frames and the setting that resolves it)."""


class MisalignedError(AlignmentError):
    """The pairing is visibly shifted: neighbouring frames match better."""


@dataclass(frozen=True)
class FramePair:
    ref: int  # reference frame index (0-based)
    dist: int  # distorted frame index
    time: Fraction  # the reference frame's time (seconds; frame number when untimed)


@dataclass(frozen=True)
class AlignPlan:
    """Which frames are scored against which.

    ``method`` is ``"time"`` (equal times) or ``"hold"`` (different rates:
    the distorted frame on screen at each reference time). ``timed`` is False
    when both streams are untimed folders (times are frame numbers).
    """

    pairs: tuple[FramePair, ...]
    mode: str
    offset: int
    method: str
    timed: bool
    ref_unpaired: tuple[int, ...] = ()
    dist_unpaired: tuple[int, ...] = ()
    repeated: int = 0  # pairs whose distorted frame was already used (hold only)
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.pairs)


# ---------------------------------------------------------------------------- helpers

def _ranges(indices: Iterable[int], limit: int = 4) -> str:
    """``"3, 7-9, 12"`` (and ``", ... (N in all)"`` past ``limit`` runs)."""
    idx = sorted(indices)
    runs: list[list[int]] = []
    for i in idx:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit])
    if len(runs) > limit:
        text += f", ... ({len(idx)} in all)"
    return text


def _frames(n: int) -> str:
    return "frame" if n == 1 else "frames"


def _when(times: tuple[Fraction, ...], indices: list[int], timed: bool) -> str:
    if not timed or not indices:
        return ""
    a, b = float(times[min(indices)]), float(times[max(indices)])
    return f" ({a:.3f} s)" if a == b else f" ({a:.3f}-{b:.3f} s)"


def _fps(info: StreamInfo) -> str:
    return f"{float(info.frame_rate):.6g} fps" if info.frame_rate else "one frame"


def _scaled(info: StreamInfo, other: StreamInfo) -> tuple[tuple[Fraction, ...], Fraction | None, Fraction]:
    """Times, interval and tick of ``info`` on a common clock with ``other``:
    an untimed folder takes a timed stream's interval."""
    if info.timed or not other.timed or not other.interval:
        return info.times, info.interval, info.tick
    unit = other.interval
    return tuple(t * unit for t in info.times), (info.interval or 1) * unit, info.tick


def _hint_modes() -> str:
    return f"{spell('frames')} overlap (score the frames both have) or {spell('frames')} ref (every reference frame)"


# ---------------------------------------------------------------------------- plan

def plan_pairs(ref: StreamInfo, dist: StreamInfo, *, frames: str | None = None, offset: int = 0) -> AlignPlan:
    """Pair the frames of ``ref`` and ``dist`` (rules in the module docstring).

    Raises:
        SizeMismatchError: the frame sizes differ (never resized).
        AlignmentError: the streams cannot be paired under ``frames``.
        ValueError: an unknown ``frames`` mode or a non-integer offset.
    """
    mode = "exact" if frames is None else str(frames)
    if mode not in FRAME_MODES:
        raise ValueError(f"frames must be one of {', '.join(FRAME_MODES)}, not {frames!r}")
    if isinstance(offset, bool) or int(offset) != offset:
        raise ValueError(f"offset must be a whole number of frames, not {offset!r}")
    offset = int(offset)
    if (ref.width, ref.height) != (dist.width, dist.height):
        raise SizeMismatchError(f"size mismatch: {ref.width}x{ref.height} vs {dist.width}x{dist.height}")
    rt, ri, rtick = _scaled(ref, dist)
    dt, di, dtick = _scaled(dist, ref)
    timed = ref.timed or dist.timed
    notes: list[str] = []
    if ref.timed != dist.timed:
        untimed = dist if ref.timed else ref
        notes.append(f"{'distorted' if untimed is dist else 'reference'} has no frame rate: "
                     f"timed at the other stream's {_fps(ref if untimed is dist else dist)}")
    if offset:
        step = di or ri or Fraction(1)
        dt = tuple(t - offset * step for t in dt)
    tick = max(rtick, dtick)
    same_rate = ri is None or di is None or abs(ri - di) <= tick + min(ri, di) / 1000
    for name, info in (("reference", ref), ("distorted", dist)):
        if info.vfr:
            notes.append(f"{name} has a variable frame rate")
    if same_rate:
        plan = _by_time(rt, dt, ri or di, mode, offset, timed, ref, dist, notes)
    else:
        if mode == "exact":
            raise AlignmentError(f"frame rates differ: reference {_fps(ref)}, distorted {_fps(dist)}; "
                                 f"set {_hint_modes()} to pair each reference frame with the distorted frame "
                                 "shown at its time")
        plan = _by_hold(rt, dt, di, mode, offset, timed, ref, dist, notes)
    if not plan.pairs:
        raise AlignmentError(f"no frame of the reference ({ref.describe()}) meets a frame of the distorted "
                             f"({dist.describe()}) in time" + (f" with {spell('offset')} {offset}" if offset else ""))
    return plan


def _by_time(rt, dt, interval, mode, offset, timed, ref, dist, notes) -> AlignPlan:
    """Pairs of equal times (within half an interval), two pointers."""
    half = (interval or Fraction(1)) / 2
    pairs: list[FramePair] = []
    ur: list[int] = []
    ud: list[int] = []
    i = j = 0
    while i < len(rt) and j < len(dt):
        d = rt[i] - dt[j]
        if abs(d) < half:
            pairs.append(FramePair(i, j, ref.times[i]))
            i += 1
            j += 1
        elif d < 0:
            ur.append(i)
            i += 1
        else:
            ud.append(j)
            j += 1
    ur += range(i, len(rt))
    ud += range(j, len(dt))
    n = abs(offset)
    if mode == "exact":
        allowed_r = set(range(len(rt) - n, len(rt))) if offset > 0 else set(range(n))
        allowed_d = set(range(n)) if offset > 0 else set(range(len(dt) - n, len(dt)))
        bad_r = [k for k in ur if k not in allowed_r]
        bad_d = [k for k in ud if k not in allowed_d]
        if bad_r or bad_d:
            what = []
            if bad_r:
                what.append(f"the distorted has no frame for reference {_frames(len(bad_r))} {_ranges(bad_r)}"
                            f"{_when(ref.times, bad_r, timed)}")
            if bad_d:
                what.append(f"the reference has no frame for distorted {_frames(len(bad_d))} {_ranges(bad_d)}"
                            f"{_when(dist.times, bad_d, timed)}")
            counts = f"reference {ref.frame_count} frames, distorted {dist.frame_count}"
            shifted = f" after {spell('offset')} {offset}" if offset else ""
            raise AlignmentError(f"frames do not pair up{shifted} ({counts}): {'; '.join(what)}; set "
                                 f"{_hint_modes()}, or {spell('offset')} N if one stream is shifted "
                                 f"({spell('find_offset')} searches for N)")
    elif mode == "ref" and ur:
        raise AlignmentError(f"the distorted has no frame for reference {_frames(len(ur))} {_ranges(ur)}"
                             f"{_when(ref.times, ur, timed)} ({ref.frame_count} reference frames, "
                             f"{dist.frame_count} distorted); {spell('frames')} ref scores every reference frame "
                             f"and never repeats a distorted one: use {spell('frames')} overlap to leave them out")
    if ur:
        notes.append(f"{len(ur)} reference {_frames(len(ur))} without a distorted frame left out: {_ranges(ur)}"
                     f"{_when(ref.times, ur, timed)}")
    if ud:
        notes.append(f"{len(ud)} distorted {_frames(len(ud))} without a reference frame left out: {_ranges(ud)}"
                     f"{_when(dist.times, ud, timed)}")
    return AlignPlan(tuple(pairs), mode, offset, "time", timed, tuple(ur), tuple(ud), 0, tuple(notes))


def _by_hold(rt, dt, di, mode, offset, timed, ref, dist, notes) -> AlignPlan:
    """Different rates: the distorted frame on screen at each reference time."""
    slack = max(ref.tick, dist.tick)
    ends = list(dt[1:]) + [dt[-1] + (di or Fraction(0))]
    pairs: list[FramePair] = []
    outside: list[int] = []
    for i, t in enumerate(rt):
        j = bisect_right(dt, t + slack) - 1
        if j < 0 or t >= ends[j] - slack and j == len(dt) - 1:
            outside.append(i)
            continue
        pairs.append(FramePair(i, j, ref.times[i]))
    if mode == "ref" and outside:
        raise AlignmentError(f"reference {_frames(len(outside))} {_ranges(outside)}{_when(ref.times, outside, timed)} "
                             "fall outside "
                             f"the distorted stream ({_fps(ref)} vs {_fps(dist)}); {spell('frames')} ref never "
                             f"repeats a distorted frame past its end: use {spell('frames')} overlap")
    used = [p.dist for p in pairs]
    seen = set(used)
    repeated = len(used) - len(seen)
    lo, hi = (min(used), max(used)) if used else (0, -1)
    never = [j for j in range(lo, hi + 1) if j not in seen]
    ud = tuple(j for j in range(len(dt)) if j not in seen)
    notes.append(f"frame rates differ ({_fps(ref)} vs {_fps(dist)}): each reference frame paired with the "
                 f"distorted frame on screen at its time; {repeated} distorted {_frames(repeated)} used twice or "
                 "more, "
                 f"{len(never)} never shown")
    if outside:
        notes.append(f"{len(outside)} reference {_frames(len(outside))} outside the distorted stream left out: "
                     f"{_ranges(outside)}{_when(ref.times, outside, timed)}")
    return AlignPlan(tuple(pairs), mode, offset, "hold", timed, tuple(outside), ud, repeated, tuple(notes))


# ---------------------------------------------------------------------------- PSNR on luma

def luma_psnr(a: np.ndarray, b: np.ndarray, data_range: float, cap_db: float) -> float:
    """PSNR (dB) of two luma planes, at most ``cap_db`` (identical planes: the cap)."""
    wide = np.int64 if a.dtype.kind in "ui" and b.dtype.kind in "ui" else np.float64
    d = a.astype(wide).ravel()
    d -= b.ravel()
    sse = float(np.dot(d, d))
    if sse == 0.0:
        return cap_db
    return min(cap_db, 10.0 * math.log10(data_range * data_range * d.size / sse))


def _frames_upto(source, last: int) -> Iterator[Frame]:
    for f in source.frames():
        if f.index > last:
            return
        yield f


# ---------------------------------------------------------------------------- sync check

@dataclass(frozen=True)
class SyncCheck:
    """Mean PSNR on Y of the first pairs as planned (shift 0) and with the
    distorted frame one earlier (-1) or later (+1)."""

    pairs: int  # pairs compared
    mean_db: dict[int, float]  # shift -> mean capped PSNR (dB)
    wins: dict[int, int]  # shift -> pairs where it beat shift 0
    verdict: str  # "aligned", "shifted", "unchecked"
    note: str = ""


SYNC_FRAMES = 10
SYNC_MARGIN_DB = 1.0
SYNC_SHARE = 0.6


def check_sync(ref_source, dist_source, plan: AlignPlan, *, frames: int = SYNC_FRAMES,
               margin_db: float = SYNC_MARGIN_DB, share: float = SYNC_SHARE, raise_error: bool = True) -> SyncCheck:
    """Refuse a pairing that is one frame off.

    On the first ``frames`` pairs of ``plan`` (those whose distorted frame
    has both neighbours), PSNR on Y of each pair is compared with the PSNR of
    the same reference frame against the previous and the next distorted
    frame (identical planes count at the cap 6·bits + 12 dB). The pairing is
    **shifted** when, for shift s = -1 or +1, the mean PSNR at s exceeds the
    mean at 0 by more than ``margin_db`` (1 dB) *and* s beats 0 on at least
    ``share`` (60 %) of the pairs. Correctly aligned content never does this:
    a neighbouring frame adds the motion between frames to the distortion's
    error. Static content gives equal means and passes (the shift then
    changes no number either). Pairings that hold frames (different rates),
    streams of different data ranges and plans with fewer than 3 checkable
    pairs are not checked (verdict ``"unchecked"``, with the reason).

    Raises:
        MisalignedError: the pairing is shifted (``raise_error``), naming
            ``offset`` (with the better value) and ``find_offset``.
    """
    if plan.method != "time":
        return SyncCheck(0, {}, {}, "unchecked", "frames paired across different rates: not checked")
    if ref_source.info.data_range != dist_source.info.data_range:
        return SyncCheck(0, {}, {}, "unchecked", "different data ranges: alignment not checked")
    dist_count = dist_source.info.frame_count
    chosen = [p for p in plan.pairs if 0 < p.dist < dist_count - 1][:frames]
    if len(chosen) < 3:
        return SyncCheck(len(chosen), {}, {}, "unchecked", "fewer than 3 frames to check the alignment")
    want_r = {p.ref for p in chosen}
    want_d = {p.dist + s for p in chosen for s in (-1, 0, 1)}
    ref_y = {f.index: f.luma() for f in _frames_upto(ref_source, max(want_r)) if f.index in want_r}
    dist_y = {f.index: f.luma() for f in _frames_upto(dist_source, max(want_d)) if f.index in want_d}
    L = float(ref_source.info.data_range)
    cap = psnr_cap(ref_source.info.bit_depth or 8)
    scores = {s: [luma_psnr(ref_y[p.ref], dist_y[p.dist + s], L, cap) for p in chosen] for s in (-1, 0, 1)}
    mean_db = {s: float(np.mean(v)) for s, v in scores.items()}
    wins = {s: sum(a > b for a, b in zip(scores[s], scores[0])) for s in (-1, 1)}
    best = max((-1, 1), key=lambda s: mean_db[s])
    shifted = mean_db[best] > mean_db[0] + margin_db and wins[best] >= share * len(chosen)
    check = SyncCheck(len(chosen), mean_db, wins, "shifted" if shifted else "aligned")
    if shifted and raise_error:
        better = plan.offset + best
        raise MisalignedError(
            f"frames look misaligned: on the first {len(chosen)} pairs, distorted frame i{best:+d} matches "
            f"reference frame i better than frame i (mean PSNR on Y {mean_db[best]:.2f} dB vs "
            f"{mean_db[0]:.2f} dB); set {spell('offset')} {better} if the distorted stream is "
            f"{'late' if better > 0 else 'early'}, or {spell('find_offset')} to search")
    return check


# ---------------------------------------------------------------------------- offset search

@dataclass(frozen=True)
class OffsetSearch:
    """Result of :func:`find_offset`: the best offset and the score of each."""

    best: int
    table: dict[int, float]  # offset -> mean capped PSNR on Y (dB)
    frames: int  # reference frames compared for every offset
    search: int  # offsets searched: -search..search
    margin_db: float  # best minus the next best (negative when 0 was kept for want of a clear winner)
    note: str = ""

    def describe(self) -> str:
        rows = ", ".join(f"{k:+d}: {v:.2f} dB" for k, v in sorted(self.table.items()))
        return (f"best offset {self.best:+d} ({self.table[self.best]:.2f} dB, {self.margin_db:.2f} dB ahead of the "
                f"next) over {self.frames} reference frames; {rows}" + (f"; {self.note}" if self.note else ""))


OFFSET_MARGIN_DB = 0.1


def find_offset(ref_source, dist_source, *, search: int = 5, seconds: float = 2.0) -> OffsetSearch:
    """The offset N (distorted frame i + N pairs with reference frame i) in
    ``-search..search`` whose pairs have the highest mean PSNR on Y over the
    reference frames of the first ``seconds`` (at least ``2·search + 1``
    frames when the stream has them). Every offset is scored on the same
    reference frames (those with a distorted frame at every offset); ties go
    to the smaller ``|N|``, then to the positive. Frames are read in one pass,
    keeping ``2·search + 1`` distorted frames in memory. An offset other than
    0 must beat 0 by :data:`OFFSET_MARGIN_DB` (0.1 dB), else the answer is 0
    with a note (static content scores alike at every offset). The result is
    reported, never applied: pass it as ``offset``.

    Raises:
        AlignmentError: different frame rates or sizes, or too few frames.
    """
    ri, di = ref_source.info, dist_source.info
    if (ri.width, ri.height) != (di.width, di.height):
        raise SizeMismatchError(f"size mismatch: {ri.width}x{ri.height} vs {di.width}x{di.height}")
    if ri.interval and di.interval and ri.timed and di.timed and \
            abs(ri.interval - di.interval) > max(ri.tick, di.tick) + min(ri.interval, di.interval) / 1000:
        raise AlignmentError(f"{spell('find_offset')} needs one frame rate: reference {_fps(ri)}, distorted {_fps(di)}")
    search = int(search)
    if search < 1:
        raise ValueError(f"search must be at least 1 frame, got {search}")
    if ri.timed and ri.interval:
        window = max(int(math.ceil(Fraction(seconds) / ri.interval)) if seconds else 0, 2 * search + 1)
    else:
        window = max(int(seconds * 25), 2 * search + 1)
    note = ""
    usable = min(window, ri.frame_count, di.frame_count)
    s = min(search, (usable - 1) // 2)
    if s < 1:
        raise AlignmentError(f"too few frames to search for an offset ({ri.frame_count} and {di.frame_count})")
    if s < search:
        note = f"searched -{s}..{s} only: the streams are {usable} frames long"
    # reference frames i in [s, window - s): every offset k in [-s, s] has dist frame i + k
    first, last = s, min(window, ri.frame_count, di.frame_count - s) - 1
    if last < first:
        raise AlignmentError(f"too few frames to search for an offset ({ri.frame_count} and {di.frame_count})")
    L = float(ri.data_range)
    cap = psnr_cap(ri.bit_depth or 8)
    sums = {k: 0.0 for k in range(-s, s + 1)}
    held: deque[tuple[int, np.ndarray]] = deque()
    dist_iter = iter(_frames_upto(dist_source, last + s))
    n = 0
    for f in _frames_upto(ref_source, last):
        if f.index < first:
            continue
        y = f.luma()
        while not held or held[-1][0] < f.index + s:
            g = next(dist_iter)
            held.append((g.index, g.luma()))
        while held[0][0] < f.index - s:
            held.popleft()
        got = dict(held)
        for k in sums:
            sums[k] += luma_psnr(y, got[f.index + k], L, cap)
        n += 1
    table = {k: v / n for k, v in sums.items()}
    order = sorted(table, key=lambda k: (-round(table[k], 9), abs(k), -k))
    best = order[0]
    if best != 0 and table[best] - table[0] < OFFSET_MARGIN_DB:
        best = 0
        note = "; ".join(x for x in (note, f"no offset beats 0 by {OFFSET_MARGIN_DB} dB (static content?): "
                                           "no offset stands out") if x)
    margin = table[best] - max((v for k, v in table.items() if k != best), default=table[best])
    return OffsetSearch(best, table, n, s, margin, note)
