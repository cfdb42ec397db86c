"""Frame sequences that are not video files, and :func:`open_stream`, which
opens any frame source by what its path is.

* **A folder of numbered frames** (:func:`open_folder`): the image files
  directly in the folder (extensions of :data:`~iqa_cli.pairing.IMAGE_EXTENSIONS`,
  hidden files skipped), ordered by the number in their names (the last run
  of digits of the name without extension: ``shot_0009.png`` < ``shot_0010.png``,
  ``f2.png`` < ``f10.png``). All files must follow one pattern (same text
  before and after the number, same extension); two patterns, a name without
  a number or one number written twice (``f1.png``, ``f01.png``) are errors.
  Missing numbers are gaps, reported, and they keep their place in time: frame
  ``shot_0012.png`` is at 12 - first intervals, so a missing frame is found by
  the pairing instead of shifting every later frame. Each frame is read by
  :func:`~iqa_cli.io.load_image` (its data range, bit depth and warnings).
  A folder has no frame rate unless one is given (``rate``); untimed, its
  times count frame numbers and the pairing borrows the other stream's rate.
* **An animated GIF, APNG or WebP** (:func:`open_animation`): decoded frame by
  frame by Pillow, which returns each frame *as displayed*: GIF frames are
  composited onto the canvas left by the previous frame after its disposal
  method (none/keep, restore to background, restore to previous), APNG frames
  after their ``dispose_op``/``blend_op``, WebP frames by libwebp's animation
  decoder. Each frame is RGBA (RGB when fully opaque), 8-bit. Times are the
  cumulative frame durations stored in the file (a delay of 0 counts as
  100 ms, with a note, as browsers show such frames).
"""

from __future__ import annotations

import os
import re
import stat
from fractions import Fraction
from typing import Iterator

import numpy as np

from ..errors import ImageLoadError
from ..pairing import IMAGE_EXTENSIONS
from .image import DEFAULT_MAX_PIXELS, LoadedImage, one_line, too_large
from .load import load_image
from .stream import Frame, StreamInfo, describe_gaps, timing
from .video import is_video, open_video

_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")
ANIMATION_FORMATS = ("GIF", "PNG", "WEBP")
_ANIMATED_EXTENSIONS = (".gif", ".png", ".webp", ".apng")  # files that may hold an animation


class SequenceError(ImageLoadError):
    """A folder of frames or an animation cannot be read as a frame sequence."""


def _as_rate(rate) -> Fraction | None:
    if rate is None:
        return None
    r = Fraction(rate).limit_denominator(1_000_000) if isinstance(rate, float) else Fraction(rate)
    if r <= 0:
        raise ValueError(f"frame rate must be positive, got {rate!r}")
    return r


# ---------------------------------------------------------------------------- folders

class FolderSource:
    """The frames of a folder of numbered image files (see the module docstring)."""

    def __init__(self, info: StreamInfo, files: list[str], numbers: list[int], load_options: dict,
                 first: LoadedImage | None = None):
        self.info = info
        self.files = files  # paths, in frame order
        self.numbers = numbers  # the number in each file name
        self._load = load_options
        self._first = first  # frame 0, decoded by open_folder; used once

    @property
    def path(self) -> str:
        return self.info.path

    def frames(self) -> Iterator[Frame]:
        info = self.info
        for i, f in enumerate(self.files):
            img = self._first if i == 0 and self._first is not None else load_image(f, **self._load)
            self._first = None
            if (img.width, img.height) != (info.width, info.height):
                raise SequenceError(f"frame {i} is {img.shape_str}, the first frame {info.width}x{info.height}",
                                    path=f)
            if img.data_range != info.data_range:
                raise SequenceError(f"frame {i} has data range {img.data_range:g}, the first frame "
                                    f"{info.data_range:g}", path=f)
            yield Frame(index=i, time=info.times[i], planes=(), data_range=img.data_range, layout="image", image=img)


def open_folder(path: str | os.PathLike[str], *, rate=None, bit_depth: int | None = None,
                data_range: float | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                exif_transpose: bool = False) -> FolderSource:
    """A folder of numbered frames (rules in the module docstring).

    ``rate``: frames per second (a number or Fraction); None: untimed. The
    other options go to :func:`~iqa_cli.io.load_image` for every frame.

    Raises:
        SequenceError: not a folder, no image files, mixed name patterns, a
            name without a number, a number written twice.
    """
    spath = os.fspath(path)
    try:
        st = os.stat(spath)
    except OSError:
        raise SequenceError("no such folder", path=spath) from None
    if not stat.S_ISDIR(st.st_mode):
        raise SequenceError("not a folder", path=spath)
    groups: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    unnumbered = []
    try:
        entries = sorted(os.scandir(spath), key=lambda e: e.name)
    except OSError as e:
        raise SequenceError(f"cannot list the folder ({one_line(e.strerror or e)})", path=spath) from None
    for entry in entries:
        stem, ext = os.path.splitext(entry.name)
        if entry.name.startswith(".") or ext.lower() not in IMAGE_EXTENSIONS or not entry.is_file():
            continue
        m = _NUMBERED.match(stem)
        if m is None:
            unnumbered.append(entry.name)
            continue
        groups.setdefault((m.group(1), m.group(3), ext.lower()), []).append((int(m.group(2)), entry.path))
    if unnumbered:
        raise SequenceError(f"{unnumbered[0]} has no frame number: a frame folder holds numbered frames only",
                            path=spath)
    if not groups:
        raise SequenceError("no numbered image files in the folder", path=spath)
    if len(groups) > 1:
        shown = ", ".join(f"{p}#{s}{e} ({len(v)} files)" for (p, s, e), v in list(groups.items())[:3])
        raise SequenceError(f"the folder holds {len(groups)} numbered sequences: {shown}; keep one per folder",
                            path=spath)
    items = sorted(next(iter(groups.values())))
    numbers = [n for n, _ in items]
    for a, b in zip(items, items[1:]):
        if a[0] == b[0]:
            raise SequenceError(f"frame number {a[0]} is written twice ({os.path.basename(a[1])}, "
                                f"{os.path.basename(b[1])})", path=spath)
    files = [f for _, f in items]
    options = dict(bit_depth=bit_depth, data_range=data_range, max_pixels=max_pixels, exif_transpose=exif_transpose)
    first = load_image(files[0], **options)
    r = _as_rate(rate)
    unit = Fraction(1) / r if r else Fraction(1)
    times = [Fraction(n - numbers[0]) * unit for n in numbers]
    _, vfr, gaps = timing(times)
    notes = []
    if gaps:
        notes.append(f"frame numbers skip {describe_gaps(gaps, r is not None)}")
    if r is None:
        notes.append("a folder of frames has no frame rate: paired by frame number")
    bits = int(round(np.log2(first.data_range + 1))) if float(first.data_range).is_integer() else 0
    info = StreamInfo(path=spath, kind="folder", width=first.width, height=first.height, times=tuple(times),
                      timed=r is not None, interval=unit, vfr=vfr,
                      gaps=gaps, data_range=first.data_range, bit_depth=bits, layout="image",
                      notes=tuple(notes))
    return FolderSource(info, files, numbers, options, first)


# ---------------------------------------------------------------------------- animations

def _open_pillow(path: str, fail):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except FileNotFoundError:
        raise fail("no such file") from None
    except UnidentifiedImageError:
        raise fail("not an image (cannot identify image format)") from None
    except Exception as e:  # noqa: BLE001
        raise fail(f"cannot read ({one_line(e) or type(e).__name__})") from None


def animation_frames(path: str | os.PathLike[str]) -> int:
    """Number of frames of a GIF/PNG/WebP file (1 for a still image, 0 for
    another format); reads the header only."""
    spath = os.fspath(path)
    im = _open_pillow(spath, lambda r: SequenceError(r, path=spath))
    with im:
        if im.format not in ANIMATION_FORMATS:
            return 0
        try:
            return int(getattr(im, "n_frames", 1))
        except Exception as e:  # noqa: BLE001
            raise SequenceError(f"corrupt animation ({one_line(e)})", path=spath) from None


class AnimationSource:
    """The displayed frames of an animated GIF, APNG or WebP."""

    def __init__(self, info: StreamInfo, fmt: str):
        self.info = info
        self.format = fmt  # Pillow's format name: GIF, PNG, WEBP

    @property
    def path(self) -> str:
        return self.info.path

    def _walk(self, decode: bool) -> Iterator[tuple[int, float, np.ndarray | None]]:
        from .pillow import strict_pillow

        path = self.info.path

        def fail(reason):
            return SequenceError(reason, path=path)

        with strict_pillow():
            im = _open_pillow(path, fail)
            with im:
                try:
                    n = int(getattr(im, "n_frames", 1))
                    for k in range(n):
                        im.seek(k)
                        im.load()  # WebP sets the frame's duration on load
                        duration = float(im.info.get("duration", 0) or 0)
                        arr = None
                        if decode:
                            rgba = im.convert("RGBA")
                            arr = np.array(rgba)
                            if (arr[..., 3] == 255).all():
                                arr = np.ascontiguousarray(arr[..., :3])
                        yield k, duration, arr
                except SequenceError:
                    raise
                except Exception as e:  # noqa: BLE001 - a truncated or corrupt frame
                    raise fail(f"cannot decode frame {k} ({one_line(e) or type(e).__name__})") from None

    def frames(self) -> Iterator[Frame]:
        info = self.info
        for k, _, arr in self._walk(decode=True):
            if k >= info.frame_count:
                raise SequenceError("the animation changed while it was read", path=info.path)
            img = LoadedImage(path=info.path, pixels=arr, data_range=255.0, has_alpha=arr.shape[2] == 4,
                              format=self.format)
            yield Frame(index=k, time=info.times[k], planes=(), data_range=255.0, layout="image", image=img)


ZERO_DELAY_MS = 100  # what browsers show a frame stored with no delay for


def open_animation(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> AnimationSource:
    """An animated GIF, APNG or WebP as a frame source (rules in the module
    docstring). Every frame is visited once here for its duration.

    Raises:
        SequenceError: unreadable, not GIF/PNG/WebP, too large, corrupt.
    """
    spath = os.fspath(path)

    def fail(reason):
        return SequenceError(reason, path=spath)

    im = _open_pillow(spath, fail)
    with im:
        fmt, (w, h) = im.format, im.size
    if fmt not in ANIMATION_FORMATS:
        raise fail(f"{fmt} is not an animation format (GIF, PNG, WebP)")
    if max_pixels is not None and w * h > max_pixels:
        raise fail(too_large(w, h, max_pixels))
    src = AnimationSource(StreamInfo(path=spath, kind="animation", width=w, height=h, times=(), timed=True,
                                     interval=None, vfr=False, gaps=(), data_range=255.0, bit_depth=8,
                                     layout="image"), fmt)
    durations = [d for _, d, _ in src._walk(decode=False)]
    zero = sum(1 for d in durations[:-1] if d == 0)
    times, t = [], Fraction(0)
    for d in durations:
        times.append(t)
        t += Fraction(d or ZERO_DELAY_MS).limit_denominator(1_000_000) / 1000
    notes = []
    if zero:
        notes.append(f"{zero} frames with a duration of 0 ms: timed at {ZERO_DELAY_MS} ms, as browsers show them")
    interval, vfr, gaps = timing(times, Fraction(1, 1000))
    if vfr:
        notes.append("variable frame durations")
    src.info = StreamInfo(path=spath, kind="animation", width=w, height=h, times=tuple(times), timed=True,
                          interval=interval, vfr=vfr, gaps=gaps, data_range=255.0, bit_depth=8, layout="image",
                          tick=Fraction(1, 1000), notes=tuple(notes))
    return src


# ---------------------------------------------------------------------------- still images

class StillSource:
    """A still image as a stream of one frame at time 0 (so that it pairs
    with an animation or a video, whose other frames then do not pair up)."""

    def __init__(self, info: StreamInfo, image: LoadedImage):
        self.info = info
        self.image = image

    @property
    def path(self) -> str:
        return self.info.path

    def frames(self) -> Iterator[Frame]:
        yield Frame(index=0, time=Fraction(0), planes=(), data_range=self.image.data_range, layout="image",
                    image=self.image)


def open_still(path: str | os.PathLike[str], **load_options) -> StillSource:
    """A still image file (any format :func:`~iqa_cli.io.load_image` reads) as a one-frame stream."""
    img = load_image(path, **load_options)
    bits = int(round(np.log2(img.data_range + 1))) if float(img.data_range).is_integer() else 0
    info = StreamInfo(path=os.fspath(path), kind="image", width=img.width, height=img.height,
                      times=(Fraction(0),), timed=True, interval=None, vfr=False, gaps=(),
                      data_range=img.data_range, bit_depth=bits, layout="image",
                      notes=tuple(img.warnings))
    return StillSource(info, img)


# ---------------------------------------------------------------------------- any source

def is_sequence(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a frame source rather than a still image: a video
    file, a folder, or a GIF/PNG/WebP with more than one frame."""
    spath = os.fspath(path)
    if os.path.isdir(spath):
        return True
    if os.path.lexists(spath) and not os.path.isfile(spath):  # a FIFO or broken link: never opened (a FIFO blocks); the loader names it
        return False
    if is_video(spath):
        return True
    if os.path.splitext(spath)[1].lower() in _ANIMATED_EXTENSIONS:
        try:
            return animation_frames(spath) > 1
        except SequenceError:
            return False
    return False


def open_stream(path: str | os.PathLike[str], *, rate=None, bit_depth: int | None = None,
                data_range: float | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                exif_transpose: bool = False):
    """A frame source for ``path``: a folder of frames, a video file (by
    extension), or an image file read frame by frame (an animated GIF, PNG
    or WebP; any other image, or one of one frame, as a one-frame stream).
    ``rate`` applies to folders only; ``bit_depth``/``data_range``/
    ``exif_transpose`` to folder frames and still images.

    Returns:
        a :class:`~.video.VideoSource`, :class:`FolderSource`,
        :class:`AnimationSource` or :class:`StillSource`, each with ``info``
        and ``frames()``.
    """
    spath = os.fspath(path)
    if os.path.isdir(spath):
        return open_folder(spath, rate=rate, bit_depth=bit_depth, data_range=data_range, max_pixels=max_pixels,
                           exif_transpose=exif_transpose)
    if is_video(spath):
        return open_video(spath)
    if os.path.splitext(spath)[1].lower() in _ANIMATED_EXTENSIONS and animation_frames(spath) > 1:
        return open_animation(spath, max_pixels=max_pixels)
    return open_still(spath, bit_depth=bit_depth, data_range=data_range, max_pixels=max_pixels,
                      exif_transpose=exif_transpose)
