"""What a test hands to ``iqa_image.check`` → the bytes of one image file.

- a path: the file as it is (its extension names the format);
- bytes of an encoded image: as they are (format sniffed from the magic bytes);
- a numpy array (H, W[, C]) of uint8, uint16, bool or float in [0, 1]: a PNG
  (8-bit, 16-bit for uint16 and float), written by :func:`png_bytes` so that
  the same pixels always give the same bytes;
- a PIL image: its pixels, as an array;
- a matplotlib figure: rendered by Agg at :data:`FIGURE_DPI` without metadata.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

from ..errors import UsageError
from ..pairing import IMAGE_EXTENSIONS

FIGURE_DPI = 100  # fixed, so a figure's size in pixels does not follow the user's rcParams

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
    (b"BM", ".bmp"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
)


def sniff(data: bytes) -> str | None:
    """The file extension of encoded image bytes, or None."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if len(data) > 2 and data[:1] == b"P" and data[1:2] in b"2356" and data[2:3].isspace():
        return {b"2": ".pgm", b"5": ".pgm", b"3": ".ppm", b"6": ".ppm"}[data[1:2]]
    return None


def png_bytes(a: Any) -> bytes:
    """A uint8 or uint16 (H, W[, C<=4]) array as PNG (libpng through imagecodecs,
    which also writes 16-bit colour): no ancillary chunks, so equal pixels give
    equal bytes."""
    import imagecodecs
    import numpy as np

    a = np.ascontiguousarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return bytes(imagecodecs.png_encode(a, level=6))


def array_png(arr: Any, what: str = "array") -> bytes:
    """Check an array's shape and sample type and encode it (float → 16-bit)."""
    import numpy as np

    a = np.asarray(arr)
    if a.ndim not in (2, 3) or (a.ndim == 3 and not 1 <= a.shape[2] <= 4) or 0 in a.shape:
        raise UsageError(f"iqa_image.check: {what} of shape {a.shape}: expected (H, W) or (H, W, C) with C = 1..4")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "f":
        lo, hi = float(np.min(a)), float(np.max(a))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
            raise UsageError(f"iqa_image.check: float {what} must hold values in [0, 1] (min {lo:g}, max {hi:g})")
        a = np.round(a.astype(np.float64) * 65535.0).astype(np.uint16)
    elif a.dtype not in (np.uint8, np.uint16):
        raise UsageError(f"iqa_image.check: {what} of dtype {a.dtype}: expected uint8, uint16, bool or float "
                         "in [0, 1]")
    return png_bytes(a)


def _pil_array(img: Any):
    import numpy as np

    mode = img.mode
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA" if mode == "PA" or "transparency" in img.info else "RGB")
    elif mode in ("RGBa", "La"):
        img = img.convert(mode[0:-1] + "A" if mode == "RGBa" else "LA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        img = img.convert("RGB")
    a = np.asarray(img)
    if mode == "I":
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise UsageError("iqa_image.check: PIL image of mode I holds values outside 0..65535")
        a = a.astype(np.uint16)
    elif a.dtype.kind == "u" and a.dtype.itemsize == 2:
        a = a.astype(np.uint16)  # I;16B and friends: native byte order
    return a


def _is_pil(obj: Any) -> bool:
    mod = sys.modules.get("PIL.Image")
    return mod is not None and isinstance(obj, mod.Image)


def _is_figure(obj: Any) -> bool:
    mod = sys.modules.get("matplotlib.figure")
    return mod is not None and isinstance(obj, mod.Figure)


def figure_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # Agg whatever the backend, a fixed dpi, and no Software/date text chunks: the same plot gives the same bytes
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, backend="agg", metadata={"Software": None})
    return buf.getvalue()


def encode(image: Any) -> tuple[bytes | None, str | None, str]:
    """``(data, path, ext)``: the image's bytes (None for a path, which is used
    as it is), the source path (or None) and the baseline's file extension."""
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        ext = os.path.splitext(path)[1].lower()
        if not os.path.isfile(path):
            raise UsageError("iqa_image.check: no such file", path)
        if ext not in IMAGE_EXTENSIONS:
            raise UsageError(f"iqa_image.check: not an image file name (known: {', '.join(sorted(IMAGE_EXTENSIONS))})",
                             path)
        return None, path, ".jpg" if ext == ".jpeg" else ".tif" if ext == ".tiff" else ext
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        ext = sniff(data)
        if ext is None:
            raise UsageError(f"iqa_image.check: these {len(data)} bytes are not an encoded image "
                             "(PNG, JPEG, TIFF, BMP, GIF, WebP, PPM/PGM)")
        return data, None, ext
    if _is_pil(image):
        return array_png(_pil_array(image), f"PIL image (mode {image.mode})"), None, ".png"
    if _is_figure(image):
        return figure_png(image), None, ".png"
    if hasattr(image, "__array_interface__") or hasattr(image, "__array__"):
        return array_png(image), None, ".png"
    raise UsageError(f"iqa_image.check: cannot check a {type(image).__name__}: give a path, encoded bytes, a numpy "
                     "array, a PIL image or a matplotlib figure")
