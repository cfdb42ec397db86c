"""What every frame source (a video file, a folder of numbered frames, an
animated image) tells the layers above it: :class:`StreamInfo` (size, sample
range, the presentation time of every frame, variable frame rate and gaps)
and :class:`Frame` (one decoded frame in its native planes).

Times are exact fractions of a second counted from the stream's first frame
(each stream's start is reset to 0), so two streams are paired by comparing
rationals, never by accumulating float frame durations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Iterator, Protocol

import numpy as np

if TYPE_CHECKING:
    from .image import LoadedImage
    from .yuv import YuvFormat


@dataclass(frozen=True)
class Gap:
    """Missing frames inside a stream: the time step after frame ``after``
    is ``missing + 1`` nominal intervals."""

    after: int  # 0-based index of the frame before the gap
    time: Fraction  # its time (seconds, or frame units for an untimed stream)
    missing: int  # frames the gap holds


@dataclass(frozen=True)
class StreamInfo:
    """A frame source, known before its frames are decoded.

    Attributes:
        path: the file or folder as given.
        kind: ``"video"``, ``"folder"`` or ``"animation"``.
        width, height: luma (or image) size in pixels.
        times: presentation time of each frame, first frame at 0, ascending;
            seconds for a timed stream, frame numbers for an untimed one.
        timed: False for a folder without a frame rate (``times`` count
            frame numbers); pairing then borrows the other stream's rate.
        interval: the nominal frame interval: the median step between
            consecutive times, or the container's declared interval when
            the median is within one tick of it (None for a single frame).
        vfr: the steps between frames vary by more than the time base's
            rounding and are not whole multiples of the interval (a gap is
            reported in ``gaps``, not as variable frame rate).
        gaps: steps that are 2 or more whole intervals (missing frames).
        data_range: value of full intensity of the native samples (255,
            1023, 65535...).
        bit_depth: significant bits per sample.
        layout: ``"yuv"`` (planes Y, U, V), ``"gray"`` (Y), ``"rgb"``
            (R, G, B) or ``"image"`` (each frame carries a
            :class:`~iqa_cli.io.image.LoadedImage`).
        tick: the time base's resolution (seconds per tick) where the source
            has one: two times closer than it are the same instant.
        notes: one line per decision taken while probing (defaults assumed,
            where a value came from).
    """

    path: str
    kind: str
    width: int
    height: int
    times: tuple[Fraction, ...]
    timed: bool
    interval: Fraction | None
    vfr: bool
    gaps: tuple[Gap, ...]
    data_range: float
    bit_depth: int
    layout: str
    tick: Fraction = Fraction(0)
    notes: tuple[str, ...] = ()

    @property
    def frame_count(self) -> int:
        return len(self.times)

    @property
    def frame_rate(self) -> Fraction | None:
        """1 / interval (frames per second for a timed stream)."""
        return None if not self.interval else 1 / self.interval

    @property
    def duration(self) -> Fraction:
        """From the first frame's start to the last frame's end (the last
        frame lasts one nominal interval)."""
        if not self.times:
            return Fraction(0)
        return self.times[-1] + (self.interval or Fraction(0))

    def describe(self) -> str:
        """``"1920x1080, 300 frames at 25 fps (12.000 s)"``, the form used in messages."""
        if self.timed and self.interval:
            rate = f" at {float(self.frame_rate):.6g} fps"
        elif self.timed:
            rate = ""
        else:
            rate = " (no frame rate)"
        extra = ", variable frame rate" if self.vfr else ""
        dur = f" ({float(self.duration):.3f} s)" if self.timed else ""
        return f"{self.width}x{self.height}, {self.frame_count} frames{rate}{dur}{extra}"


@dataclass
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based position in the stream.
        time: presentation time (seconds from the stream's first frame), or
            the frame number for an untimed folder (see ``timed``).
        planes: the native planes, each ``(h, w)`` in its stored integer
            dtype: ``(Y, U, V)`` with U and V at their own (subsampled)
            resolution, ``(Y,)``, or ``(R, G, B)``. Empty for ``image``
            frames.
        data_range: value of full intensity of the samples.
        layout: as :attr:`StreamInfo.layout`.
        yuv: matrix, range and subsampling of YUV planes (for the RGB view).
        image: the frame as a loaded image (frames of folders and animations).
    """

    index: int
    time: Fraction
    planes: tuple[np.ndarray, ...]
    data_range: float
    layout: str
    yuv: YuvFormat | None = None
    image: LoadedImage | None = field(default=None, repr=False)

    @property
    def seconds(self) -> float:
        return float(self.time)

    def rgb(self) -> np.ndarray:
        """``(3, H, W)`` R, G, B in the planes' integer dtype and range:
        YUV converted with the stream's matrix and range (:mod:`.yuv`),
        RGB planes as they are, grey replicated."""
        if self.layout == "yuv":
            from .yuv import yuv_to_rgb

            return yuv_to_rgb(*self.planes, self.yuv)
        if self.layout == "rgb":
            return np.stack(self.planes)
        if self.layout == "gray":
            return np.repeat(self.planes[0][None], 3, axis=0)
        raise ValueError(f"frame of layout {self.layout}: use .image")

    def luma(self) -> np.ndarray:
        """``(H, W)`` luma for alignment checks: the Y plane as stored, or
        BT.601 luma (float64, unrounded) of RGB frames."""
        if self.layout in ("yuv", "gray"):
            return self.planes[0]
        if self.layout == "rgb":
            r, g, b = (p.astype(np.float64) for p in self.planes)
        else:
            px = self.image.pixels
            if self.image.has_alpha:
                px = px[..., :-1]
            if px.shape[2] == 1:
                return px[..., 0]
            r, g, b = (px[..., i].astype(np.float64) for i in range(3))
        return 0.299 * r + 0.587 * g + 0.114 * b


class FrameSource(Protocol):
    """What the pairing and scoring layers need from a stream."""

    info: StreamInfo

    def frames(self) -> Iterator[Frame]:
        """Every frame in presentation order, index 0 first."""
        ...


def timing(times: list[Fraction], tick: Fraction = Fraction(0),
           declared: Fraction | None = None) -> tuple[Fraction | None, bool, tuple[Gap, ...]]:
    """Nominal interval, variable frame rate and gaps of ascending ``times``.

    The interval is the median step, or ``declared`` (the container's frame
    interval) when the median is within one ``tick`` of it: 29.97 fps in a
    1 ms time base has 33 and 34 ms steps, and 1001/30000 s is its interval. A step that is a whole multiple k >= 2
    of it (within the rounding of the time base, one ``tick`` per interval)
    is a gap of k - 1 missing frames. The stream has a variable frame rate
    when any other step differs from the interval by more than one tick
    (plus 0.1 % of the interval: float-derived times): 33 and 34 ms steps
    of 29.97 fps in a 1 ms time base are constant rate; 33 and 50 ms are not.
    """
    if len(times) < 2:
        return None, False, ()
    steps = [b - a for a, b in zip(times, times[1:])]
    interval = sorted(steps)[len(steps) // 2]
    if declared and abs(declared - interval) <= tick:
        interval = declared
    if interval <= 0:
        return None, True, ()
    slack = tick + interval / 1000
    vfr = False
    gaps = []
    for i, s in enumerate(steps):
        if abs(s - interval) <= slack:
            continue
        k = round(s / interval)
        if k >= 2 and abs(s - k * interval) <= slack * k:
            gaps.append(Gap(after=i, time=times[i], missing=k - 1))
        else:
            vfr = True
    return interval, vfr, tuple(gaps)


def describe_gaps(gaps: tuple[Gap, ...], timed: bool, limit: int = 3) -> str:
    """``"2 missing frames (1 after frame 9 at 0.360 s, 1 after frame 20 at 0.840 s)"``."""
    total = sum(g.missing for g in gaps)
    where = ", ".join(
        f"{g.missing} after frame {g.after}" + (f" at {float(g.time):.3f} s" if timed else "") for g in gaps[:limit]
    )
    more = f", and {len(gaps) - limit} more gaps" if len(gaps) > limit else ""
    return f"{total} missing frame{'s' if total != 1 else ''} ({where}{more})"
