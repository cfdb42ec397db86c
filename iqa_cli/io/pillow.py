"""Decoding with Pillow: PNG, JPEG, BMP, GIF, WebP, PNM and the rest.

Pillow reads every header (size, mode, frames, transparency, ICC, EXIF); the
pixels of PNG and JPEG then come from the fast decoders of :mod:`.fast` when
they are installed and accept the file, else from Pillow. Pillow (13.0
included) keeps only the high byte of 16-bit colour samples, so such a file
is an error when the fast decoder cannot read it, never an 8-bit image.

Pillow's process-wide settings (``MAX_IMAGE_PIXELS``,
``LOAD_TRUNCATED_IMAGES``) are touched only under one lock; the pixel data of
PNG and JPEG is decoded outside it, in parallel across threads.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from typing import Iterator

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from ..errors import ImageLoadError
from .fast import decode as fast_decode
from .fast import decode_16bit_colour
from .fast import png_exif_after_idat, usable
from .image import one_line, too_large

# Pillow's process-wide settings are touched only under this lock.
_PIL_LOCK = threading.RLock()
_strict = {"users": 0, "saved": False}  # iqa decodes running, and the LOAD_TRUNCATED_IMAGES they replaced

# Formats whose load() reads neither Image.MAX_IMAGE_PIXELS nor warns about
# it (their size is fixed by the header, which our own limit has checked):
# their pixel data is decoded outside _PIL_LOCK, in parallel.
_PARALLEL_FORMATS = frozenset({"PNG", "JPEG"})




@contextlib.contextmanager
def strict_pillow() -> Iterator[None]:
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
        raise fail(f"image too large: {one_line(e)}") from None
    except OSError as e:
        msg = one_line(e)
        if "truncated" in msg or "broken" in msg or "unrecognized data stream" in msg:
            raise fail(f"truncated or corrupt {fmt} data ({msg})") from None
        raise fail(f"cannot decode {fmt}: {msg}") from None
    except MemoryError:
        raise fail(f"not enough memory to decode {w}x{h} {fmt}") from None
    except Exception as e:  # noqa: BLE001
        raise fail(f"cannot decode {fmt}: {one_line(e) or type(e).__name__}") from None


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


def _is_split16(fmt: str, rawmode: str | None) -> bool:
    """16-bit colour that Pillow unpacks to 8 bits (48/64-bit RGB(A), 16-bit grey+alpha PNG)."""
    if rawmode is None:
        return False
    return (fmt == "PNG" and rawmode == "LA;16B") or re.fullmatch(r"(RGB|RGBA|RGBX);16[BLN]", rawmode) is not None


def _tile_rawmode(tile) -> str | None:
    args = tile.args if hasattr(tile, "args") else tile[3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


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


def read_pillow(fh, head, max_pixels, notes, fail, meta=None):
    """Decode with Pillow. Returns (array HxWxC, has_alpha, associated, format);
    ``meta`` (a dict), when given, receives ``orientation`` (the EXIF tag, 1..8,
    or None) and ``icc_profile`` (bytes or None)."""
    with strict_pillow():
        return _read_pillow_strict(fh, head, max_pixels, notes, fail, {} if meta is None else meta)


def _orientation(im) -> int | None:
    """The EXIF Orientation tag (1..8) or None; never fails a decode."""
    try:
        if im.format == "PNG" and "exif" not in im.info:
            return None  # getexif() would decode the pixels again to look behind them
        o = im.getexif().get(0x0112)
    except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to refuse the pixels
        return None
    return int(o) if isinstance(o, int) and 1 <= o <= 8 else None


def _fast_pixels(kind: str, fh, mode: str) -> np.ndarray | None:
    """The samples by the fast decoder, or None to let Pillow decode (and
    name the problem of) a file it refuses or whose metadata Pillow reads
    only while decoding."""
    try:
        fh.seek(0)
        data = fh.read()
        if kind == "png" and png_exif_after_idat(data):
            return None
        return fast_decode(kind, data, mode)
    except Exception:  # noqa: BLE001 - any refusal: Pillow decodes, or gives the reason
        return None


def _wide_pixels(fmt: str, fh) -> np.ndarray | None:
    """16-bit colour by imagecodecs, or None (missing, or it refuses the file)."""
    try:
        fh.seek(0)
        return decode_16bit_colour(fmt, fh.read())
    except Exception:  # noqa: BLE001 - Pillow then names the problem
        return None


def _read_pillow_strict(fh, head, max_pixels, notes, fail, meta):
    """:func:`read_pillow` once Pillow is strict: open under the lock, decode
    PNG and JPEG pixel data after releasing it."""
    arr = fast = None
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
            raise fail(f"image too large ({one_line(e)})") from None
        except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
            kind = _sniff(head) or "image"
            reason = one_line(e) or type(e).__name__
            raise fail(f"corrupt or truncated {kind} file ({reason})") from None

        fmt = im.format or "image"
        w, h = im.size
        if max_pixels is not None and w * h > max_pixels:
            raise fail(too_large(w, h, max_pixels))
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
            fast = usable(fmt, mode, n_frames)
            if fast is None:
                _set_pillow_limit(max_pixels)
                if rawmode and re.search(r";16[BLN]?$", rawmode) and mode[:1] not in ("I", "F") \
                        and not _is_split16(fmt, rawmode):
                    notes.append(f"16-bit {mode} samples reduced to 8 bits by the decoder")
                if fmt not in _PARALLEL_FORMATS and not _is_split16(fmt, rawmode):
                    im.load()
                    arr, mode = _pil_to_array(im, mode, rawmode, notes, fail)
    if arr is None and fast is not None:  # the pixel data, outside the lock
        arr = _fast_pixels(fast, fh, mode)
        if arr is not None:
            mode = "RGBA" if arr.shape[2] in (2, 4) else "RGB"
    if arr is None:  # PNG or JPEG pixel data by Pillow, decoded outside the lock (or 16-bit colour)
        with _decode_errors(fmt, w, h, fail):
            if _is_split16(fmt, rawmode):
                arr = _wide_pixels(fmt, fh)
                if arr is not None:
                    return _finish(im, arr, "RGBA" if arr.shape[2] in (2, 4) else "RGB", w, h, fmt, meta, fail)
                im.load()  # a truncated or corrupt file fails here, with Pillow's reason
                raise fail(f"16-bit colour {fmt}: Pillow would keep only the high byte of each sample, and the "
                           "lossless decoder (imagecodecs) is not installed or could not decode it")
            im.load()
            arr, mode = _pil_to_array(im, mode, rawmode, notes, fail)
    return _finish(im, arr, mode, w, h, fmt, meta, fail)


def _finish(im, arr, mode, w, h, fmt, meta, fail):
    """The decoded samples with the header's metadata, as :func:`read_pillow` returns them."""
    meta["orientation"] = _orientation(im)
    icc = im.info.get("icc_profile")
    meta["icc_profile"] = bytes(icc) if icc else None
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
