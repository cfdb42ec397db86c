"""Reading video files with PyAV (FFmpeg, bundled in PyAV's wheels): the
optional extra ``video`` (``pip install "iqa-cli[video]"``).

* :func:`is_video` tells a video file by its extension.
* :func:`probe` reads the container and demuxes every packet of the first
  video stream (no decoding) into a :class:`VideoInfo`: codec, size, pixel
  format, bit depth and data range, the presentation time of every frame,
  frame count, variable frame rate and gaps measured from those times (not
  the container's flags), colour matrix and range with where each came from.
* :func:`open_video` gives a :class:`VideoSource` whose :meth:`~VideoSource.frames`
  decode (FFmpeg's frame and slice threads) into :class:`~.stream.Frame` s in
  the video's native planes: Y (H, W) and U, V at their own subsampled size,
  as uint8 (8-bit) or uint16 (9..16-bit, values 0..2^b - 1), never through
  RGB. Packed and semi-planar formats (NV12, P010, YUYV, RGB24, ...) are
  repacked to the planar format of the same subsampling and depth by
  swscale, which copies samples and changes no value.

Times: each packet's PTS (DTS where a packet has none) times the stream's
time base, minus the first frame's, as exact fractions. A stream whose
packets carry no timestamps at all (raw .h264) is timed by its frame rate,
with a note.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterator

import numpy as np

from ..errors import ImageLoadError, UsageError
from ..pairing import VIDEO_EXTENSIONS
from .image import one_line
from .stream import Frame, StreamInfo, describe_gaps, timing
from .yuv import AVCOL_RANGE, AVCOL_SPC, AVCOL_SPC_NAMES, YuvFormat, default_matrix

INSTALL_HINT = 'pip install "iqa-cli[video]"'


class VideoError(ImageLoadError):
    """A video file could not be read or decoded (one line naming the file)."""


class VideoSupportMissing(UsageError):
    """PyAV, the optional video decoder, is not installed."""


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a video file (by its extension; nothing is read)."""
    return os.path.splitext(os.fspath(path))[1].lower() in VIDEO_EXTENSIONS


def require_av(path: str | None = None) -> Any:
    """The ``av`` module, or :class:`VideoSupportMissing` naming the extra."""
    try:
        import av
    except ImportError:
        py = "" if sys.version_info >= (3, 11) else " (PyAV 18 needs Python 3.11 or newer)"
        raise VideoSupportMissing(f"reading video needs PyAV: {INSTALL_HINT}{py}", path=path) from None
    return av


@dataclass(frozen=True)
class VideoInfo(StreamInfo):
    """A video stream (see :class:`~.stream.StreamInfo` for the common part).

    Attributes:
        codec: the decoder's name ("h264", "ffv1", ...).
        pix_fmt: FFmpeg's pixel format as stored ("yuv420p10le", "nv12", ...).
        planar_format: the planar format frames are read in (``pix_fmt``
            itself, or the planar format it is repacked to).
        yuv: matrix, range, bit depth and subsampling (None for RGB and grey).
        container_rate: the frame rate the container declares (PyAV's
            ``average_rate``), for comparison with the measured ``frame_rate``.
        start_time: the first frame's PTS in seconds before the reset to 0.
        frame_count_source: how the frames were counted.
        stream_index: the video stream read (the first one).
    """

    codec: str = ""
    pix_fmt: str = ""
    planar_format: str = ""
    yuv: YuvFormat | None = None
    container_rate: Fraction | None = None
    start_time: Fraction = Fraction(0)
    frame_count_source: str = ""
    stream_index: int = 0
    #: each frame's PTS in time-base ticks, ascending (empty for an untimed stream)
    pts: tuple[int, ...] = field(default=(), repr=False)
    time_base: Fraction = Fraction(0)


# ---------------------------------------------------------------------------- pixel formats

_PLANAR_YUV = re.compile(r"^yuv(j?)(420|422|444|440|411|410)p(\d+)?(le|be)?$")
_PLANAR_YUVA = re.compile(r"^yuva(420|422|444)p(\d+)?(le|be)?$")
_GRAY = re.compile(r"^gray(\d+)?(le|be)?$")
_SUB_NAME = {(2, 2): "420", (2, 1): "422", (1, 1): "444", (1, 2): "440", (4, 1): "411", (4, 4): "410"}


@dataclass(frozen=True)
class _Layout:
    """How frames of one pixel format become native planes."""

    layout: str  # yuv | gray | rgb
    read_format: str  # planar format to read (reformat to it when != pix_fmt)
    bits: int
    subsampling: tuple[int, int]
    full_range_format: bool  # yuvj*: full range by definition
    note: str | None


def _layout(av: Any, pix_fmt: str, path: str) -> _Layout:
    try:
        fmt = av.VideoFormat(pix_fmt)
    except Exception:  # noqa: BLE001
        raise VideoError(f"unknown pixel format {pix_fmt}", path=path) from None
    if fmt.is_bayer or fmt.is_bit_stream or not fmt.components or re.search(r"f(16|32)(le|be)?$", pix_fmt):
        raise VideoError(f"pixel format {pix_fmt} is not supported", path=path)
    bits = int(fmt.components[0].bits)
    if _PLANAR_YUV.match(pix_fmt):
        m = _PLANAR_YUV.match(pix_fmt)
        sub = {v: k for k, v in _SUB_NAME.items()}[m.group(2)]
        return _Layout("yuv", pix_fmt, bits, sub, bool(m.group(1)), None)
    if _GRAY.match(pix_fmt):
        return _Layout("gray", pix_fmt, bits, (1, 1), False, None)
    if _PLANAR_YUVA.match(pix_fmt):
        m = _PLANAR_YUVA.match(pix_fmt)
        sub = {v: k for k, v in _SUB_NAME.items()}[m.group(1)]
        return _Layout("yuv", pix_fmt, bits, sub, False, f"pixel format {pix_fmt}: the alpha plane is not compared")
    if fmt.is_rgb or fmt.has_palette:
        bits = 8 if fmt.has_palette else bits
        target = "gbrp" if bits == 8 else f"gbrp{bits}le"
        note = None if pix_fmt.startswith("gbrp") and not pix_fmt.startswith("gbrap") else \
            f"pixel format {pix_fmt} read as planar {target}"
        if any(c.is_alpha for c in fmt.components):
            note = f"pixel format {pix_fmt}: read as planar {target}, the alpha channel is not compared"
        try:
            av.VideoFormat(target)
        except Exception:  # noqa: BLE001
            raise VideoError(f"pixel format {pix_fmt} ({bits}-bit RGB) is not supported", path=path) from None
        return _Layout("rgb", target, bits, (1, 1), False, note)
    # semi-planar and packed YUV (nv12, p010le, yuyv422, ...): repack to planar
    w = 64
    sx = w // max(1, fmt.chroma_width(w)) if len(fmt.components) >= 3 else 1
    sy = w // max(1, fmt.chroma_height(w)) if len(fmt.components) >= 3 else 1
    sub = _SUB_NAME.get((sx, sy))
    if sub is None or len(fmt.components) < 3:
        raise VideoError(f"pixel format {pix_fmt} is not supported", path=path)
    target = f"yuv{sub}p" + ("" if bits == 8 else f"{bits}le")
    try:
        av.VideoFormat(target)
    except Exception:  # noqa: BLE001
        raise VideoError(f"pixel format {pix_fmt} is not supported (no planar {target})", path=path) from None
    return _Layout("yuv", target, bits, (sx, sy), pix_fmt.startswith("yuvj"),
                   f"pixel format {pix_fmt} repacked to planar {target} (samples unchanged)")


def _colour(cc: Any, layout: _Layout, width: int, height: int) -> tuple[YuvFormat | None, list[str]]:
    """The YUV format of a stream: matrix and range from the stream's tags,
    else the defaults, each with its source."""
    if layout.layout != "yuv":
        return None, []
    notes = []
    spc = int(getattr(cc, "colorspace", 2) or 2)
    if spc == 2 or spc == 3 or spc not in AVCOL_SPC and spc not in AVCOL_SPC_NAMES:
        matrix = default_matrix(width, height)
        source = f"default for {width}x{height}: the stream has no colour matrix tag"
        name = matrix
    else:
        matrix = AVCOL_SPC.get(spc)
        name = matrix or AVCOL_SPC_NAMES.get(spc, f"matrix {spc}")
        source = "stream tag"
        if matrix is None:
            notes.append(f"colour matrix {name} (stream tag): no RGB view, only the Y, U, V planes")
    rng = int(getattr(cc, "color_range", 0) or 0)
    if layout.full_range_format:
        range_, rsource = "full", f"pixel format {cc.pix_fmt}"
    elif rng in AVCOL_RANGE:
        range_, rsource = AVCOL_RANGE[rng], "stream tag"
    else:
        range_, rsource = "limited", "default for YUV: the stream has no range tag"
    return YuvFormat(matrix=matrix, matrix_source=source, range=range_, range_source=rsource,
                     bit_depth=layout.bits, subsampling=layout.subsampling, matrix_name=name), notes


# ---------------------------------------------------------------------------- probe

def _open(av: Any, path: str) -> Any:
    try:
        return av.open(path, "r")
    except FileNotFoundError:
        raise VideoError("no such file", path=path) from None
    except IsADirectoryError:
        raise VideoError("is a directory, not a video file", path=path) from None
    except PermissionError:
        raise VideoError("permission denied", path=path) from None
    except Exception as e:  # noqa: BLE001 -- av.FFmpegError and its OSError/ValueError kinds
        raise VideoError(f"not a readable video ({_ff_reason(e)})", path=path) from None


def _ff_reason(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", one_line(text))
    text = re.sub(r":\s*'[^']*'$", "", text)  # FFmpeg appends the file name; the message already names it
    return text or type(e).__name__


def _video_stream(container: Any, path: str) -> Any:
    if not container.streams.video:
        raise VideoError("no video stream", path=path)
    return container.streams.video[0]


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe the first video stream of ``path`` without decoding it.

    Every packet is demuxed (read, not decoded) to count the frames and take
    their presentation times, since the container's frame count is missing
    in some containers (MKV, WebM) and off by one in others, and its frame
    rate flag says nothing about the actual timestamps.

    Raises:
        VideoSupportMissing: PyAV is not installed.
        VideoError: no such file, not a video, no video stream, an
            unsupported pixel format, no frames.
    """
    spath = os.fspath(path)
    av = require_av(spath)
    if not os.path.exists(spath):
        raise VideoError("no such file", path=spath)
    with _open(av, spath) as container:
        stream = _video_stream(container, spath)
        cc = stream.codec_context
        if not cc.pix_fmt or not cc.width:
            raise VideoError("the video stream has no pixel format or size (undecodable codec?)", path=spath)
        layout = _layout(av, cc.pix_fmt, spath)
        width, height = int(cc.width), int(cc.height)
        tb = stream.time_base or Fraction(1, 1)
        stamps: list[int] = []
        untimed = 0
        try:
            for pkt in container.demux(stream):
                if pkt.size == 0 or pkt.is_discard:
                    continue
                ts = pkt.pts if pkt.pts is not None else pkt.dts
                if ts is None:
                    untimed += 1
                else:
                    stamps.append(int(ts))
        except Exception as e:  # noqa: BLE001
            raise VideoError(f"cannot read the video packets ({_ff_reason(e)})", path=spath) from None
        count = len(stamps) + untimed
        if count == 0:
            raise VideoError("the video stream has no frames", path=spath)
        notes: list[str] = []
        if layout.note:
            notes.append(layout.note)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        rate = Fraction(rate) if rate else None
        if untimed:
            if not rate:
                raise VideoError("no timestamps and no frame rate: cannot time the frames", path=spath)
            times = [Fraction(i) / rate for i in range(count)]
            start = Fraction(0)
            tick = Fraction(0)
            pts: tuple[int, ...] = ()
            notes.append(f"no timestamps in the stream: frames timed by its frame rate {float(rate):.6g} fps")
            source = "packets (untimed)"
        else:
            stamps.sort()
            if len(set(stamps)) != len(stamps):
                raise VideoError("two frames share one timestamp: cannot order them", path=spath)
            first = stamps[0]
            times = [(s - first) * tb for s in stamps]
            start = first * tb
            tick = Fraction(tb)
            pts = tuple(stamps)
            source = "packets"
        yuv, cnotes = _colour(cc, layout, width, height)
        notes += cnotes
        interval, vfr, gaps = timing(times, tick, 1 / rate if rate else None)
        if vfr:
            steps = [b - a for a, b in zip(times, times[1:])]
            notes.append(f"variable frame rate: frame steps from {float(min(steps)) * 1000:.3f} to "
                         f"{float(max(steps)) * 1000:.3f} ms (from the timestamps)")
        if gaps:
            notes.append(f"timestamps skip {describe_gaps(gaps, True)}")
        info = VideoInfo(
            path=spath, kind="video", width=width, height=height, times=tuple(times), timed=True,
            interval=interval, vfr=vfr, gaps=gaps, data_range=float(2**layout.bits - 1), bit_depth=layout.bits,
            layout=layout.layout, tick=tick, notes=tuple(notes), codec=cc.name, pix_fmt=cc.pix_fmt,
            planar_format=layout.read_format, yuv=yuv, container_rate=rate, start_time=start,
            frame_count_source=source, stream_index=stream.index, pts=pts, time_base=Fraction(tb),
        )
    return info


# ---------------------------------------------------------------------------- frames

def _plane_arrays(frame: Any, bits: int) -> tuple[np.ndarray, ...]:
    """The planes of a planar frame as C-contiguous arrays of their own size
    (the line padding cut off), uint8 or native-endian uint16."""
    big = frame.format.is_big_endian
    dtype = np.dtype(np.uint8) if bits <= 8 else np.dtype(">u2" if big else "<u2")
    out = []
    for p in frame.planes:
        row = p.line_size // dtype.itemsize
        a = np.frombuffer(p, dtype=dtype, count=row * p.height).reshape(p.height, row)[:, : p.width]
        out.append(np.ascontiguousarray(a, dtype=dtype.newbyteorder("=")))
    return tuple(out)


class VideoSource:
    """The frames of one video, decoded on demand (see :func:`open_video`)."""

    def __init__(self, info: VideoInfo):
        self.info = info
        self._layout: _Layout | None = None

    @property
    def path(self) -> str:
        return self.info.path

    def frames(self, threads: int = 0) -> Iterator[Frame]:
        """Decode every frame in presentation order.

        ``threads``: FFmpeg decoder threads (0: FFmpeg's choice, one per core).
        Each :class:`~.stream.Frame` has its 0-based index, its time (seconds
        after the first frame) and its native planes; they are copies, safe
        to keep after the next frame is decoded.

        Raises:
            VideoError: the decoder fails, drops frames, or yields frames the
                probe did not see (the file changed, or corrupt data).
        """
        info = self.info
        av = require_av(info.path)
        pts = info.pts
        index_of = {p: i for i, p in enumerate(pts)}
        layout = _layout(av, info.pix_fmt, info.path)
        direct: dict[str, bool] = {}  # frame format -> its planes are read as they are
        n = 0
        with _open(av, info.path) as container:
            stream = next((s for s in container.streams.video if s.index == info.stream_index), None)
            if stream is None:
                raise VideoError("the video stream is gone (the file changed?)", path=info.path)
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = int(threads)
            try:
                for frame in container.decode(stream):
                    if pts:
                        i = index_of.get(frame.pts) if frame.pts is not None else None
                        if i is None:
                            raise VideoError(f"decoded a frame at PTS {frame.pts} that the container does not list "
                                             "(corrupt or changed file)", path=info.path)
                        if i != n:
                            missing = f"{n}" if i == n + 1 else f"{n}-{i - 1}"
                            raise VideoError(f"the decoder dropped frame {missing} of {len(pts)} (corrupt data?)",
                                             path=info.path)
                    name = frame.format.name
                    if name not in direct:  # yuvj420p frames of a yuv420p stream: same planes, no conversion
                        direct[name] = name == layout.read_format or _layout(av, name, info.path).read_format == name
                    if not direct[name]:
                        frame = frame.reformat(format=layout.read_format)
                    planes = _plane_arrays(frame, layout.bits)
                    if layout.layout == "rgb":  # gbrp order: G, B, R
                        planes = (planes[2], planes[0], planes[1])
                    elif len(planes) > 3:  # yuva: alpha not compared
                        planes = planes[:3]
                    yield Frame(index=n, time=info.times[n] if n < len(info.times) else Fraction(n),
                                planes=planes, data_range=info.data_range, layout=layout.layout, yuv=info.yuv)
                    n += 1
            except VideoError:
                raise
            except Exception as e:  # noqa: BLE001 -- av.FFmpegError kinds
                raise VideoError(f"cannot decode frame {n} ({_ff_reason(e)})", path=info.path) from None
        if n != info.frame_count:
            raise VideoError(f"decoded {n} frames, the container lists {info.frame_count} (truncated or corrupt?)",
                             path=info.path)


def open_video(path: str | os.PathLike[str]) -> VideoSource:
    """:func:`probe` the file and return a :class:`VideoSource` for its frames."""
    return VideoSource(probe(path))


def describe(info: VideoInfo) -> str:
    """One line: ``"h264 yuv420p 8-bit, 1920x1080, 300 frames at 25 fps (12.000 s), BT.709 (stream tag), limited range (stream tag)"``."""
    parts = [f"{info.codec} {info.pix_fmt} {info.bit_depth}-bit", info.describe()]
    if info.yuv is not None:
        parts.append(info.yuv.describe())
    return ", ".join(parts)
