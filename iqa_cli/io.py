"""Reading image files and turning two of them into a comparable pair.

Two steps, kept apart so that each can be tested and reused:

:func:`load_image`
    Decode one file into a :class:`LoadedImage`: the samples exactly as stored
    (``uint8``, ``uint16``, ``float32`` or ``float64``, shape ``(H, W, C)``) and
    the data range that goes with them.

:func:`prepare_pair`
    Turn a reference and a distorted :class:`LoadedImage` into a
    :class:`PreparedPair`: two ``float64`` arrays of shape ``(C, H, W)`` on one
    common ``[0, data_range]`` scale, with alpha, grey-vs-colour and
    bit-depth differences resolved, and a warning for every such decision.

Conventions (the normative text is ``spec/cli.md``, "Image semantics", and
``spec/metrics.md`` section 7):

* **Samples are never rescaled on load.** 8-bit files give ``uint8`` with range
  255, 16-bit files ``uint16`` with range 65535 (or ``2**bit_depth - 1`` with
  ``bit_depth``, e.g. 12-bit payloads in 16-bit PNGs; a sample above that is an
  error). Float files need ``data_range``; float data already inside [0, 1] is
  taken as range 1.0 with a warning, float data outside it is an error. An
  explicit ``data_range`` wins for every sample type. The range is never
  inferred from the content beyond that [0, 1] rule.
* **Decoders.** Pillow for PNG, JPEG, BMP, GIF, WebP and the rest; tifffile for
  TIFF (16-bit, float, multi-sample), with Pillow as the fallback for TIFF
  compressions that tifffile cannot decode without ``imagecodecs`` (LZW,
  PackBits, JPEG) and for palette, bilevel, CMYK and YCbCr TIFFs.
* **16-bit colour PNGs are decoded losslessly.** Pillow (13.0 included) opens
  48- and 64-bit PNGs as 8-bit ``RGB``/``RGBA`` and keeps only the high byte
  of each sample, and 16-bit grey+alpha as 8-bit ``RGBA``. Pillow's own C
  decoder still does the unfiltering; we run it with raw modes that keep the
  high and the low byte respectively and join the two (see
  :func:`_decode_split16`), so no extra dependency is needed.
* **Palette** images are expanded to RGB, or RGBA when they carry
  transparency. **1-bit** images become ``uint8`` 0/255 with range 255, so
  they compare directly with 8-bit files. CMYK is converted to RGB by Pillow's
  naive formula, with a warning. A single-colour transparency key (PNG
  ``tRNS`` on grey or RGB) becomes an alpha channel.
* **Alpha** is the last channel (``C`` = 2 for grey+alpha, 4 for RGBA), on
  the same scale as the colour samples, and *straight* (not premultiplied)
  unless :attr:`LoadedImage.alpha_associated` says the file stored
  premultiplied colour (TIFF ``ExtraSamples = 1``).
* **Pixels are taken as stored**: no EXIF orientation, no ICC or gamma
  conversion, so both files of a pair must be stored the same way.
* **Multi-frame files** (animated GIF/PNG/WebP, multi-page TIFF): the first
  frame, with the warning ``"N frames: using the first"``.
* **Decompression bombs**: the pixel count is read from the header and
  checked against ``max_pixels`` before anything is decoded. While iqa decodes
  with Pillow, Pillow's own ``Image.MAX_IMAGE_PIXELS`` check is aligned to
  the same limit (and its warning silenced), so exactly one limit applies;
  Pillow's globals are restored afterwards. ``ImageFile.LOAD_TRUNCATED_IMAGES``
  is forced to False while any iqa decode runs, so a truncated file is an
  error, never a partly black image. Both settings are process-wide: opening
  files (and decoding formats whose decoder reads Pillow's limit, e.g. GIF,
  ICO) is serialised by a lock, while the pixel data of PNG and JPEG, the bulk
  of the work, is decoded outside it, in parallel across threads.
* Every problem is an :class:`~iqa_cli.errors.ImageLoadError` with a one-line
  message naming the file (``path``) and the problem.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import sys
import threading
import warnings
from dataclasses import dataclass, field
from typing import IO, Iterator

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import ImageLoadError, SizeMismatchError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "LoadedImage",
    "PreparedPair",
    "load_image",
    "prepare_pair",
    "parse_alpha",
]

#: Largest accepted image, in pixels (width x height), before decoding starts.
#: 2**28 is 16384 x 16384; a float64 RGBA copy of such an image needs 8 GiB.
DEFAULT_MAX_PIXELS: int = 2**28


# --------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------


@dataclass
class LoadedImage:
    """One decoded image file.

    Attributes:
        path: the path as given to :func:`load_image` (``str``).
        pixels: ``(H, W, C)`` array, ``C`` in {1, 2, 3, 4}: grey, grey+alpha,
            RGB, RGBA. The dtype is the stored sample type: ``uint8``,
            ``uint16``, ``float32`` or ``float64`` (other integer types are
            only accepted with an explicit ``data_range`` and are then
            converted to ``float64``; ``float16`` becomes ``float32``).
        data_range: the value of full intensity (255, 65535,
            ``2**bit_depth - 1``, 1.0, or the explicit ``data_range``).
        has_alpha: the last channel is alpha (``C`` is 2 or 4).
        warnings: one-line notes about decisions taken while loading.
        alpha_associated: the colour samples are premultiplied by alpha as
            stored in the file (TIFF associated alpha). :func:`prepare_pair`
            takes it into account.
        format: the decoder's name for the file format ("PNG", "TIFF", ...).
    """

    path: str
    pixels: np.ndarray
    data_range: float
    has_alpha: bool
    warnings: list[str] = field(default_factory=list)
    alpha_associated: bool = False
    format: str | None = None

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        """Colour channels, alpha not counted (1 for grey, 3 for RGB)."""
        return int(self.pixels.shape[2]) - int(self.has_alpha)

    @property
    def shape_str(self) -> str:
        """``"WxH"``, the form used in messages ("640x480")."""
        return f"{self.width}x{self.height}"


@dataclass
class PreparedPair:
    """A reference and a distorted image ready for the metrics.

    Attributes:
        reference, distorted: arrays of shape ``(C, H, W)`` on the
            ``[0, data_range]`` scale, of one dtype: the stored ``uint8``,
            ``float32`` (also 16-bit data) or ``float64`` samples when no
            arithmetic was needed, else ``float64`` (see :func:`prepare_pair`).
            ``C`` is 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (R, G, B,
            alpha); an alpha channel is present only
            under ``alpha="premultiplied"`` when at least one image is not
            fully opaque.
        data_range: the common data range of both arrays.
        warnings: the complete list of warnings for this pair: each image's
            load warnings prefixed with ``"reference: "`` or
            ``"distorted: "``, then the pair-level ones (grey replicated to
            RGB, bit depths unified, ...). A report row can use this list
            alone.
    """

    reference: np.ndarray
    distorted: np.ndarray
    data_range: float
    warnings: list[str] = field(default_factory=list)

    @property
    def channels(self) -> int:
        return int(self.reference.shape[0])

    @property
    def height(self) -> int:
        return int(self.reference.shape[1])

    @property
    def width(self) -> int:
        return int(self.reference.shape[2])


# --------------------------------------------------------------------------
# load_image
# --------------------------------------------------------------------------

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

# Pillow's process-wide settings are touched only under this lock.
_PIL_LOCK = threading.RLock()
_strict = {"users": 0, "saved": False}  # iqa decodes running, and the LOAD_TRUNCATED_IMAGES they replaced

# Formats whose load() reads neither Image.MAX_IMAGE_PIXELS nor warns about
# it (their size is fixed by the header, which our own limit has checked):
# their pixel data is decoded outside _PIL_LOCK, in parallel.
_PARALLEL_FORMATS = frozenset({"PNG", "JPEG"})


def _one_line(text: object) -> str:
    """Collapse an exception message to a single trimmed line."""
    s = " ".join(str(text).split())
    return s if len(s) <= 200 else s[:197] + "..."


def load_image(
    path: str | os.PathLike[str],
    *,
    bit_depth: int | None = None,
    data_range: float | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> LoadedImage:
    """Decode one image file.

    Args:
        path: the file.
        bit_depth: significant bits of an integer image (1..16), e.g. 10 or
            12 for such payloads stored in 16-bit files; the data range
            becomes ``2**bit_depth - 1`` and a larger sample is an error.
            Not for float images (pass ``data_range``).
        data_range: explicit data range for any sample type; it overrides
            ``bit_depth`` and the sample type's own range. Samples outside
            ``[0, data_range]`` give a warning.
        max_pixels: refuse images with more pixels than this, checked on the
            header before decoding. ``None`` disables the check.

    Returns:
        A :class:`LoadedImage` (conventions in the module docstring).

    Raises:
        ImageLoadError: with a one-line reason: no such file, is a
            directory, empty file, permission denied, not an image,
            unsupported format, truncated or corrupt data, too large, bad
            sample values for the requested range.
        ValueError: ``bit_depth``, ``data_range`` or ``max_pixels`` is not a
            valid setting.
    """
    if bit_depth is not None:
        valid = isinstance(bit_depth, (int, np.integer)) and not isinstance(bit_depth, bool)
        if not valid or not 1 <= bit_depth <= 16:
            raise ValueError(f"bit depth must be an integer from 1 to 16, got {bit_depth!r}")
        bit_depth = int(bit_depth)
    if data_range is not None:
        try:
            data_range = float(data_range)
        except (TypeError, ValueError):
            raise ValueError(f"data range must be a positive number, got {data_range!r}") from None
        if not (math.isfinite(data_range) and data_range > 0):
            raise ValueError(f"data range must be a positive finite number, got {data_range!r}")
    if max_pixels is not None and (isinstance(max_pixels, bool) or int(max_pixels) < 1):
        raise ValueError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")

    spath = os.fspath(path)
    spath = spath if isinstance(spath, str) else os.fsdecode(spath)

    def fail(reason: str) -> ImageLoadError:
        return ImageLoadError(reason, path=spath)

    try:
        st = os.stat(spath)
    except (FileNotFoundError, NotADirectoryError):
        raise fail("no such file") from None
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as e:
        raise fail(f"cannot read: {_one_line(e.strerror or e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise fail("is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise fail("not a regular file")
    if st.st_size == 0:
        raise fail("empty file (0 bytes)")

    try:
        fh = open(spath, "rb")
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as e:
        raise fail(f"cannot read: {_one_line(e.strerror or e)}") from None

    notes: list[str] = []
    with fh:
        try:
            head = fh.read(32)
            fh.seek(0)
        except OSError as e:
            raise fail(f"cannot read: {_one_line(e.strerror or e)}") from None
        if head[:4] in _TIFF_MAGIC:
            decoded = _read_tiff(fh, st.st_size, max_pixels, notes, fail)
        else:
            decoded = _read_pillow(fh, head, max_pixels, notes, fail)

    arr, has_alpha, associated, fmt = decoded
    arr, rng = _resolve_range(arr, bit_depth, data_range, notes, fail)
    return LoadedImage(
        path=spath,
        pixels=arr,
        data_range=rng,
        has_alpha=has_alpha,
        warnings=notes,
        alpha_associated=associated and has_alpha,
        format=fmt,
    )


def _too_large(w: int, h: int, max_pixels: int) -> str:
    return (
        f"image too large: {w}x{h} = {w * h} pixels, above the limit of "
        f"{max_pixels} pixels (max_pixels); refused before decoding"
    )


def _resolve_range(arr, bit_depth, data_range, notes, fail):
    """Check sample values and choose the data range (see the module docs)."""
    dt = arr.dtype
    if dt == np.float16:
        arr = arr.astype(np.float32)
        dt = arr.dtype
    if dt.kind == "b":
        arr = arr.astype(np.uint8) * np.uint8(255)
        dt = arr.dtype

    if dt.kind == "f":
        if not np.isfinite(arr).all():
            raise fail("float image contains NaN or infinite values")
        lo = float(arr.min()) if arr.size else 0.0
        hi = float(arr.max()) if arr.size else 0.0
        if data_range is None:
            if bit_depth is not None:
                raise fail(
                    f"bit depth {bit_depth} applies to integer images; this one has "
                    f"{dt.name} samples: pass --data-range"
                )
            if lo < 0.0 or hi > 1.0:
                raise fail(
                    f"float image with values in [{lo:.6g}, {hi:.6g}], outside [0, 1]: "
                    "pass --data-range"
                )
            notes.append("float image without --data-range: assuming 1.0")
            return arr, 1.0
    elif dt in (np.uint8, np.uint16):
        hi = int(arr.max()) if arr.size else 0
        lo = 0
        if data_range is None:
            stored = 8 if dt == np.uint8 else 16
            if bit_depth is None:
                return arr, float(2**stored - 1)
            if bit_depth > stored:
                raise fail(f"bit depth {bit_depth} does not fit the file's {stored}-bit samples")
            limit = 2**bit_depth - 1
            if hi > limit:
                raise fail(
                    f"sample value {hi} exceeds bit depth {bit_depth} (maximum {limit})"
                )
            return arr, float(limit)
    else:
        if data_range is None:
            raise fail(f"unsupported sample type {dt.name}: pass --data-range")
        arr = arr.astype(np.float64)
        lo = float(arr.min()) if arr.size else 0.0
        hi = float(arr.max()) if arr.size else 0.0

    # explicit data range
    if bit_depth is not None:
        notes.append(f"both bit depth {bit_depth} and data range given: using data range {data_range:g}")
    if lo < 0 or hi > data_range:
        notes.append(
            f"values in [{float(lo):.6g}, {float(hi):.6g}] fall outside the data range "
            f"[0, {data_range:g}]"
        )
    return arr, float(data_range)


# -------------------------------------------------------------- Pillow path


@contextlib.contextmanager
def _strict_pillow() -> Iterator[None]:
    """``ImageFile.LOAD_TRUNCATED_IMAGES`` is False while any iqa decode runs:
    the first decode to start saves the caller's value, the last to end
    restores it (decodes in other threads keep running meanwhile)."""
    with _PIL_LOCK:
        if _strict["users"] == 0:
            _strict["saved"] = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = False
        _strict["users"] += 1
    try:
        yield
    finally:
        with _PIL_LOCK:
            _strict["users"] -= 1
            if _strict["users"] == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES = _strict["saved"]


@contextlib.contextmanager
def _pillow_settings() -> Iterator[None]:
    """Hold the lock, with Pillow's size warning silenced; restore its limit afterwards."""
    with _PIL_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@contextlib.contextmanager
def _decode_errors(fmt: str, w: int, h: int, fail) -> Iterator[None]:
    """Decoder failures as one-line :class:`ImageLoadError` s."""
    try:
        yield
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as e:
        raise fail(f"image too large: {_one_line(e)}") from None
    except OSError as e:
        msg = _one_line(e)
        if "truncated" in msg or "broken" in msg or "unrecognized data stream" in msg:
            raise fail(f"truncated or corrupt {fmt} data ({msg})") from None
        raise fail(f"cannot decode {fmt}: {msg}") from None
    except MemoryError:
        raise fail(f"not enough memory to decode {w}x{h} {fmt}") from None
    except Exception as e:  # noqa: BLE001
        raise fail(f"cannot decode {fmt}: {_one_line(e) or type(e).__name__}") from None


def _set_pillow_limit(max_pixels: int | None) -> None:
    # Pillow errors above 2 * MAX_IMAGE_PIXELS (it only warns above it); half
    # of our limit, rounded up, makes its error threshold equal ours.
    Image.MAX_IMAGE_PIXELS = None if max_pixels is None else (int(max_pixels) + 1) // 2


# Known formats by magic number, for messages when Pillow gives up.
_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"v/1\x01", "OpenEXR"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (0, b"8BPS", "PSD"),
    (0, b"#?RADIANCE", "Radiance HDR"),
    (0, b"#?RGBE", "Radiance HDR"),
    (0, b"%PDF", "PDF"),
    (0, b"\x93NUMPY", "NumPy array"),
]


def _sniff(head: bytes) -> str | None:
    for off, magic, name in _MAGIC:
        if head[off : off + len(magic)] == magic:
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIF"
        return "ISO media (video?)"
    if head.lstrip()[:5] in (b"<?xml", b"<svg ", b"<svg>"):
        return "SVG/XML"
    return None


# rawmode -> (rawmode that yields the high byte, rawmode that yields the low
# byte); for 16-bit colour, which Pillow unpacks to 8 bits.
_NATIVE_LE = sys.byteorder == "little"


def _split_rawmodes(rawmode: str) -> tuple[str, str] | None:
    m = re.fullmatch(r"(RGB|RGBA|RGBX);16([BLN])", rawmode)
    if not m:
        return None
    base, order = m.groups()
    if order == "N":
        order = "L" if _NATIVE_LE else "B"
    other = "L" if order == "B" else "B"
    return f"{base};16{order}", f"{base};16{other}"


def _tile_rawmode(tile) -> str | None:
    args = tile.args if hasattr(tile, "args") else tile[3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


def _with_rawmode(tile, rawmode: str):
    args = tile.args if hasattr(tile, "args") else tile[3]
    new_args = rawmode if isinstance(args, str) else (rawmode, *args[1:])
    if hasattr(tile, "_replace"):
        return tile._replace(args=new_args)
    return (tile[0], tile[1], tile[2], new_args)


def _open_first_frame(fh: IO[bytes]) -> Image.Image:
    fh.seek(0)
    im = Image.open(fh)
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
    return im


def _decode_with_rawmode(fh: IO[bytes], rawmode: str, limit: int | None) -> np.ndarray:
    Image.MAX_IMAGE_PIXELS = None
    im = _open_first_frame(fh)
    _set_pillow_limit(limit)
    im.tile = [_with_rawmode(t, rawmode) for t in im.tile]
    im.load()
    return np.asarray(im)


def _decode_split16(fh: IO[bytes], fmt: str, rawmode: str, limit: int | None) -> np.ndarray:
    """Lossless decode of 16-bit colour that Pillow would cut to 8 bits.

    Pillow's decoder (zlib inflate and PNG unfiltering, or libtiff) works on
    the full 16-bit rows; only the final unpacking keeps the high byte. The
    unpacker for the opposite byte order keeps the *low* byte instead, so two
    decodes, one with each, give both halves. 16-bit grey+alpha PNG has
    4-byte pixels, the same layout as 8-bit RGBA, so one decode with the
    plain ``RGBA`` unpacker copies the bytes unchanged. Returns ``uint16``
    ``(H, W, C)``.
    """
    if fmt == "PNG" and rawmode == "LA;16B":
        raw = _decode_with_rawmode(fh, "RGBA", limit)  # (H, W, 4) bytes Ghi Glo Ahi Alo
        return raw.view(">u2").astype(np.uint16)
    modes = _split_rawmodes(rawmode)
    assert modes is not None
    hi = _decode_with_rawmode(fh, modes[0], limit)
    lo = _decode_with_rawmode(fh, modes[1], limit)
    out = hi.astype(np.uint16)
    out <<= 8
    out |= lo
    if rawmode.startswith("RGBX"):
        out = out[..., :3]
    return out


def _key_alpha(arr: np.ndarray, key, maxval: int) -> np.ndarray:
    """Append an alpha channel: 0 where every channel equals the colour key."""
    key = np.asarray(key, dtype=np.int64).reshape(-1)
    if arr.ndim == 2:
        arr = arr[..., None]
    if (key <= np.iinfo(arr.dtype).max).all():
        hit = (arr == key.astype(arr.dtype)).all(axis=-1)
    else:  # a key the samples cannot hold matches nothing
        hit = np.zeros(arr.shape[:2], bool)
    alpha = np.where(hit, 0, maxval).astype(arr.dtype)
    return np.concatenate([arr, alpha[..., None]], axis=-1)


def _read_pillow(fh, head, max_pixels, notes, fail):
    """Decode with Pillow. Returns (array HxWxC, has_alpha, associated, format)."""
    with _strict_pillow():
        return _read_pillow_strict(fh, head, max_pixels, notes, fail)


def _read_pillow_strict(fh, head, max_pixels, notes, fail):
    """:func:`_read_pillow` once Pillow is strict: open under the lock, decode
    PNG and JPEG pixel data after releasing it."""
    arr = None
    with _pillow_settings():
        Image.MAX_IMAGE_PIXELS = None  # the header check below is ours
        try:
            im = Image.open(fh)
        except UnidentifiedImageError:
            kind = _sniff(head)
            if kind in ("PNG", "JPEG", "GIF", "BMP"):
                raise fail(f"corrupt {kind} file (cannot decode its header)") from None
            if kind is not None:
                raise fail(f"unsupported image format ({kind})") from None
            raise fail("not an image (cannot identify image format)") from None
        except Image.DecompressionBombError as e:  # pragma: no cover - limit is off here
            raise fail(f"image too large ({_one_line(e)})") from None
        except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
            kind = _sniff(head) or "image"
            reason = _one_line(e) or type(e).__name__
            raise fail(f"corrupt or truncated {kind} file ({reason})") from None

        fmt = im.format or "image"
        w, h = im.size
        if max_pixels is not None and w * h > max_pixels:
            raise fail(_too_large(w, h, max_pixels))
        if w == 0 or h == 0:
            raise fail(f"image has no pixels ({w}x{h})")

        with _decode_errors(fmt, w, h, fail):
            try:
                n_frames = int(getattr(im, "n_frames", 1))
            except Exception:  # noqa: BLE001 - a broken later frame: the first may be fine
                n_frames = 1
            if n_frames > 1:
                notes.append(f"{n_frames} frames: using the first")
                im.seek(0)

            mode = im.mode
            rawmode = _tile_rawmode(im.tile[0]) if im.tile else None
            if rawmode is not None and (
                (fmt == "PNG" and rawmode == "LA;16B") or _split_rawmodes(rawmode) is not None
            ):
                arr = _decode_split16(fh, fmt, rawmode, max_pixels)
                mode = "RGBA" if arr.shape[2] in (2, 4) else "RGB"
                t = im.info.get("transparency")
                if arr.shape[2] == 3 and isinstance(t, tuple):
                    arr = _key_alpha(arr, t, 65535)
                    mode = "RGBA"
            else:
                _set_pillow_limit(max_pixels)
                if rawmode and re.search(r";16[BLN]?$", rawmode) and mode[:1] not in ("I", "F"):
                    notes.append(f"16-bit {mode} samples reduced to 8 bits by the decoder")
                if fmt not in _PARALLEL_FORMATS:
                    im.load()
                    arr, mode = _pil_to_array(im, mode, rawmode, notes, fail)
    if arr is None:  # PNG or JPEG pixel data: decoded outside the lock
        with _decode_errors(fmt, w, h, fail):
            im.load()
            arr, mode = _pil_to_array(im, mode, rawmode, notes, fail)

    if arr.shape[:2] != (h, w):  # pragma: no cover - defensive: decoder disagreed with header
        raise fail(f"decoded size {arr.shape[1]}x{arr.shape[0]} differs from header {w}x{h}")
    has_alpha = arr.shape[2] in (2, 4)
    associated = mode in ("RGBa", "La")
    if not (arr.flags.writeable and arr.flags.c_contiguous):
        arr = np.array(arr, order="C")  # arrays over Pillow's buffer are read-only
    return arr, has_alpha, associated, fmt


def _pil_to_array(im, mode, rawmode, notes, fail):
    """Loaded Pillow image -> (H, W, C) array in the stored sample type."""
    info = im.info
    t = info.get("transparency")
    if mode == "1":
        arr = np.asarray(im.convert("L"))[..., None]
        if isinstance(t, int):
            arr = _key_alpha(arr, t, 255)
        return arr, mode
    if mode == "L":
        arr = np.asarray(im)[..., None]
        if isinstance(t, int) and not isinstance(t, bool):
            bits = {"L;1": 1, "L;2": 2, "L;4": 4}.get(rawmode or "", 8)
            key = t * 255 // (2**bits - 1) if bits < 8 else t
            arr = _key_alpha(arr, key, 255)
        return arr, mode
    if mode in ("LA", "La", "RGBA", "RGBa"):
        return np.asarray(im), mode
    if mode in ("P", "PA"):
        target = "RGBA" if (mode == "PA" or t is not None) else "RGB"
        return np.asarray(im.convert(target)), target
    if mode == "RGB":
        arr = np.asarray(im)
        if isinstance(t, tuple) and len(t) == 3:
            arr = _key_alpha(arr, t, 255)
        return arr, mode
    if mode in ("RGBX", "YCbCr"):
        return np.asarray(im.convert("RGB")), "RGB"
    if mode == "CMYK":
        notes.append("CMYK image converted to RGB (no colour management)")
        return np.asarray(im.convert("RGB")), "RGB"
    if mode.startswith("I;16"):
        arr = np.asarray(im)
        arr = arr.astype(np.uint16) if arr.dtype != np.uint16 else arr
        arr = arr[..., None]
        if isinstance(t, int) and not isinstance(t, bool):
            arr = _key_alpha(arr, t, 65535)
        return arr, mode
    if mode == "I":
        return np.asarray(im).astype(np.int32)[..., None], mode
    if mode == "F":
        return np.asarray(im).astype(np.float32)[..., None], mode
    raise fail(f"unsupported colour mode {mode}")


# ------------------------------------------------------------ tifffile path


def _read_tiff(fh, file_size, max_pixels, notes, fail):
    """Decode a TIFF with tifffile; Pillow for what tifffile cannot do here."""
    import tifffile  # local import: tifffile is only needed for TIFF files
    from tifffile import PHOTOMETRIC, SAMPLEFORMAT

    try:
        tf = tifffile.TiffFile(fh)
    except Exception as e:  # noqa: BLE001
        raise fail(f"corrupt TIFF file ({_one_line(e) or type(e).__name__})") from None
    with tf:
        try:
            page = tf.pages.first if hasattr(tf.pages, "first") else tf.pages[0]
            n_pages = len(tf.pages)
        except Exception as e:  # noqa: BLE001
            raise fail(f"corrupt TIFF file ({_one_line(e) or type(e).__name__})") from None
        w, h = int(page.imagewidth), int(page.imagelength)
        if max_pixels is not None and w * h > max_pixels:
            raise fail(_too_large(w, h, max_pixels))
        if w == 0 or h == 0:
            raise fail(f"image has no pixels ({w}x{h})")
        if getattr(page, "imagedepth", 1) > 1:
            raise fail("unsupported TIFF: volumetric (ImageDepth > 1)")

        usable = page.bitspersample > 1 and (
            (
                page.photometric in (PHOTOMETRIC.MINISBLACK, PHOTOMETRIC.RGB)
                and page.sampleformat in (SAMPLEFORMAT.UINT, SAMPLEFORMAT.INT, SAMPLEFORMAT.IEEEFP)
            )
            or (page.photometric == PHOTOMETRIC.MINISWHITE and page.sampleformat == SAMPLEFORMAT.UINT)
        )
        data = None
        if usable:
            offs, counts = page.dataoffsets, page.databytecounts
            if offs and max(o + c for o, c in zip(offs, counts)) > file_size:
                raise fail("truncated TIFF file (image data runs past the end of the file)")
            try:
                data = page.asarray()
            except KeyError:  # a codec or predictor that needs imagecodecs: use Pillow
                data = None
            except MemoryError:
                raise fail(f"not enough memory to decode {w}x{h} TIFF") from None
            except Exception as e:  # noqa: BLE001
                if "imagecodecs" in str(e):
                    data = None
                else:
                    raise fail(f"cannot decode TIFF: {_one_line(e) or type(e).__name__}") from None
        if data is not None:
            n_frames = _count_tiff_frames(tf, n_pages)
            if n_frames > 1:
                notes.append(f"{n_frames} frames: using the first")
            return _tiff_samples(page, data, notes, fail)

    # Pillow fallback (LZW, PackBits, JPEG, palette, bilevel, CMYK, YCbCr...)
    fh.seek(0)
    head = fh.read(32)
    fh.seek(0)
    return _read_pillow(fh, head, max_pixels, notes, fail)


def _count_tiff_frames(tf, n_pages: int) -> int:
    """Pages that are images of their own (reduced-resolution copies such as
    thumbnails and pyramid levels do not count); ``n_pages`` if there are
    too many pages to look at cheaply."""
    if n_pages <= 1 or n_pages > 64:
        return n_pages
    try:
        return max(1, sum(1 for p in tf.pages if not (int(getattr(p, "subfiletype", 0) or 0) & 1)))
    except Exception:  # noqa: BLE001 - a broken later page: the first is still fine
        return n_pages


def _tiff_samples(page, data, notes, fail):
    from tifffile import EXTRASAMPLE, PHOTOMETRIC

    axes = page.axes
    # bring to Y, X, S
    keep = [a for a in axes if a in "YXS"]
    squeeze = tuple(i for i, a in enumerate(axes) if a not in "YXS")
    if any(data.shape[i] != 1 for i in squeeze):
        raise fail(f"unsupported TIFF layout (axes {axes})")
    data = data.squeeze(axis=squeeze) if squeeze else data
    if "S" not in keep:
        data = data[..., None]
        keep.append("S")
    data = np.moveaxis(data, [keep.index("Y"), keep.index("X"), keep.index("S")], [0, 1, 2])

    n_colour = 3 if page.photometric == PHOTOMETRIC.RGB else 1
    samples = data.shape[2]
    if samples < n_colour:
        raise fail(f"unsupported TIFF: {samples} samples for photometric {page.photometric.name}")
    extra = list(page.extrasamples or ())
    n_extra = samples - n_colour
    associated = False
    has_alpha = False
    if n_extra:
        first = extra[0] if extra else 0
        if first in (EXTRASAMPLE.ASSOCALPHA, EXTRASAMPLE.UNASSALPHA):
            has_alpha = True
            associated = first == EXTRASAMPLE.ASSOCALPHA
            dropped = n_extra - 1
        else:
            dropped = n_extra
        if dropped:
            notes.append(f"ignoring {dropped} extra TIFF sample(s) that are not alpha")
    data = data[..., : n_colour + int(has_alpha)]
    if page.photometric == PHOTOMETRIC.MINISWHITE:  # 0 is white: invert the grey sample
        top = (1 << int(page.bitspersample)) - 1
        data = data.copy()
        data[..., 0] = top - data[..., 0]
    return np.ascontiguousarray(data), has_alpha, associated, "TIFF"


# --------------------------------------------------------------------------
# Alpha specification
# --------------------------------------------------------------------------

_NAMED_COLOURS = {"white": (255.0, 255.0, 255.0), "black": (0.0, 0.0, 0.0)}


def parse_alpha(spec: str) -> tuple[str, tuple[float, float, float] | None]:
    """Parse an ``--alpha`` value.

    ``"premultiplied"`` and ``"drop"`` give ``(mode, None)``;
    ``"over=white"``, ``"over=black"`` and ``"over=#rrggbb"`` give
    ``("over", (r, g, b))`` with components in 0..255 (they are scaled to the
    image's data range when compositing). Case-insensitive.

    Raises:
        ValueError: anything else, with a message listing the valid forms.
    """
    if not isinstance(spec, str):
        raise ValueError(f"alpha must be a string, got {spec!r}")
    s = spec.strip().lower()
    if s in ("premultiplied", "drop"):
        return s, None
    if s.startswith("over="):
        colour = s[5:].strip()
        if colour in _NAMED_COLOURS:
            return "over", _NAMED_COLOURS[colour]
        if re.fullmatch(r"#[0-9a-f]{6}", colour):
            r, g, b = (float(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
            return "over", (r, g, b)
        raise ValueError(
            f"invalid alpha background {colour!r}: use white, black or #rrggbb"
        )
    raise ValueError(
        f"invalid alpha mode {spec!r}: use premultiplied, drop or over=white|black|#rrggbb"
    )


# --------------------------------------------------------------------------
# prepare_pair
# --------------------------------------------------------------------------


def _bits_label(img: LoadedImage) -> str:
    dt = img.pixels.dtype
    if dt == np.uint8:
        return "8-bit"
    if dt == np.uint16:
        return "16-bit"
    return "float" if dt.kind == "f" else dt.name


def _scale_note(role: str, img: LoadedImage, target: float) -> str:
    factor = target / img.data_range
    f = f"x{int(round(factor))}" if float(factor).is_integer() else f"x{factor:.6g}"
    return (
        f"{role} is {_bits_label(img)} with data range {img.data_range:g}, the other image "
        f"{target:g}: {role} scaled onto 0..{target:g} ({f})"
    )


def _storage_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a prepared plane keeps when no arithmetic was applied: uint8
    and float32/float64 as stored, uint16 as float32 (exact, and a dtype
    every torch version handles)."""
    if dtype == np.uint8 or dtype == np.float32 or dtype == np.float64:
        return dtype
    if dtype == np.uint16:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def prepare_pair(
    ref: LoadedImage, dist: LoadedImage, *, alpha: str = "premultiplied"
) -> PreparedPair:
    """Bring two loaded images onto one comparable ``(C, H, W)`` form.

    When nothing has to be computed (same data range, no transparency to
    apply) the planes keep their stored samples: ``uint8``, ``float32`` (also
    for 16-bit data, exactly) or ``float64``; otherwise they are ``float64``.
    Both arrays then have the same dtype. The metrics read these samples
    directly, so an 8-bit pair is never widened to a full float64 copy.

    Steps, each leaving a warning where it changes something:

    1. **Size**: width and height must match, else
       ``SizeMismatchError("size mismatch: 640x480 vs 641x480")`` (W x H,
       reference first). Nothing is ever resized.
    2. **Data range**: when the ranges differ, the image with the smaller
       range is scaled onto the larger one, ``x * big / small`` in float64
       (exact for 8 -> 16 bit, x257). The same rule covers float vs integer
       (a [0, 1] float image next to an 8-bit one is multiplied by 255) and
       bit-depth payloads (12-bit vs 16-bit: x65535/4095).
    3. **Grey vs colour**: the grey image is replicated to RGB.
    4. **Alpha** (``parse_alpha`` forms):

       * ``premultiplied`` (default): colour x alpha / range, and alpha kept
         as a channel of its own; an image without alpha counts as opaque.
         If *both* images are fully opaque the alpha channel is left out, so
         an RGB file and the same picture saved as opaque RGBA give the same
         numbers. Colour under fully transparent pixels becomes 0 and cannot
         count; a change in alpha alone always counts.
       * ``drop``: alpha ignored (premultiplied files are un-premultiplied).
       * ``over=COLOUR``: composited over the colour (0..255 per component,
         scaled to the range); a grey pair with transparency over a
         non-grey colour becomes RGB.

    Returns:
        :class:`PreparedPair`; its ``warnings`` also repeat each image's load
        warnings, prefixed with ``"reference: "`` / ``"distorted: "``.

    Raises:
        SizeMismatchError: the sizes differ.
        ValueError: ``alpha`` is not a valid specification.
    """
    mode, bg = parse_alpha(alpha)
    if (ref.width, ref.height) != (dist.width, dist.height):
        raise SizeMismatchError(f"size mismatch: {ref.shape_str} vs {dist.shape_str}")

    notes = [f"reference: {w}" for w in ref.warnings] + [f"distorted: {w}" for w in dist.warnings]
    rng = float(max(ref.data_range, dist.data_range))

    def as_planes(img: LoadedImage, role: str) -> np.ndarray:
        # (C, H, W): a view of the stored samples, or float64 when scaled
        x = np.moveaxis(img.pixels, 2, 0)
        if img.data_range != rng:
            notes.append(_scale_note(role, img, rng))
            x = x.astype(np.float64, order="C")
            x *= rng
            x /= img.data_range  # (x * big) / small: one rounding at most
        return x

    parts = []
    for img, role in ((ref, "reference"), (dist, "distorted")):
        x = as_planes(img, role)
        if img.has_alpha:
            parts.append([x[:-1], x[-1], img.alpha_associated])
        else:
            parts.append([x, None, False])
    (rc, ra, r_assoc), (dc, da, d_assoc) = parts

    def opaque(a: np.ndarray | None) -> bool:
        return a is None or bool((a == rng).all())

    both_opaque = opaque(ra) and opaque(da)

    def to_rgb(c: np.ndarray) -> np.ndarray:
        return np.repeat(c, 3, axis=0) if c.shape[0] == 1 else c

    if rc.shape[0] != dc.shape[0]:
        grey_role = "reference" if rc.shape[0] == 1 else "distorted"
        notes.append(f"{grey_role} is greyscale, the other image colour: greyscale replicated to RGB")
        rc, dc = to_rgb(rc), to_rgb(dc)

    if mode == "over" and not both_opaque and rc.shape[0] == 1 and not (bg[0] == bg[1] == bg[2]):
        notes.append("greyscale images composited over a coloured background: compared as RGB")
        rc, dc = to_rgb(rc), to_rgb(dc)

    def finish(c: np.ndarray, a: np.ndarray | None, assoc: bool) -> np.ndarray:
        plain = mode == "drop" or (mode == "premultiplied" and both_opaque) or a is None and mode == "over"
        if plain and not (a is not None and assoc):  # no arithmetic: keep the samples
            return np.ascontiguousarray(c, dtype=_storage_dtype(c.dtype))
        c = c.astype(np.float64)
        a = None if a is None else a.astype(np.float64)
        if plain:  # stored premultiplied: undo it
            a3 = a[None]
            out = np.divide(c * rng, a3, out=np.zeros_like(c), where=a3 > 0)
        elif mode == "premultiplied":
            if a is None:
                a = np.full(c.shape[1:], rng)
            pc = c if assoc else c * a[None] / rng
            out = np.concatenate([pc, a[None]], axis=0)
        else:  # over
            colour = np.asarray(bg, dtype=np.float64)[: c.shape[0], None, None] * rng / 255.0
            a3 = a[None]
            if assoc:
                out = c + colour * (rng - a3) / rng
            else:
                out = (c * a3 + colour * (rng - a3)) / rng
        return np.ascontiguousarray(out, dtype=np.float64)

    out_r, out_d = finish(rc, ra, r_assoc), finish(dc, da, d_assoc)
    if out_r.dtype != out_d.dtype:  # e.g. one side scaled: compare in float64
        out_r, out_d = out_r.astype(np.float64), out_d.astype(np.float64)
    return PreparedPair(reference=out_r, distorted=out_d, data_range=rng, warnings=notes)
