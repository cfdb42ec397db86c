"""Fast pixel decoders for PNG (imagecodecs: libpng on zlib-ng) and JPEG
(simplejpeg: libjpeg-turbo), both releasing the GIL while they decode.

Pillow still parses the header (format, size, mode, frames, transparency,
ICC profile, EXIF): :mod:`.pillow` checks the pixel limit on it and calls
:func:`decode` only for the cases listed in :func:`usable`, whose output is
the same, sample for sample, as the Pillow path gives (checked on every PNG
colour type and bit depth and on JPEG subsamplings). Anything else, a missing library, or a decoder that refuses a
file falls back to Pillow, which then names the problem.

Measured on a 1024² RGB PNG: imagecodecs 1.7-1.9×
faster than Pillow, pyspng nearly as fast on one thread but holding the GIL (no gain
from threads); simplejpeg ≈ imagecodecs' jpeg8 on JPEG, but only simplejpeg
raises on a truncated JPEG (``strict``) instead of filling it with grey.
"""

from __future__ import annotations

import os
import struct

import numpy as np

_MISSING = object()
_mods: dict[str, object] = {}


def _module(name: str):
    """The decoder module, or None when it is not installed (or switched off
    with ``IQA_FAST_DECODE=0``, for comparisons); imported once."""
    if os.environ.get("IQA_FAST_DECODE", "1") == "0":
        return None
    mod = _mods.get(name, _MISSING)
    if mod is _MISSING:
        try:
            mod = __import__(name)
        except Exception:  # noqa: BLE001 - a broken install is a missing one: Pillow decodes
            mod = None
        _mods[name] = mod
    return mod


#: Pillow modes of PNGs whose pixels libpng gives as iqa wants them: palette
#: expanded (alpha when tRNS), 1/2/4-bit grey scaled to 8 bits, a tRNS colour
#: key as an alpha channel, 16-bit samples kept.
_PNG_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I;16B", "I"})


def usable(fmt: str, mode: str, n_frames: int) -> str | None:
    """The fast decoder for a file Pillow has opened ("png", "jpeg"), or None."""
    if n_frames != 1:
        return None  # animated: Pillow picks the first frame
    if fmt == "PNG" and mode in _PNG_MODES and _module("imagecodecs") is not None:
        return "png"
    if fmt == "JPEG" and mode in ("L", "RGB") and _module("simplejpeg") is not None:
        return "jpeg"
    return None


def png_exif_after_idat(data: bytes) -> bool:
    """An ``eXIf`` chunk after the image data, which Pillow reads only when it
    decodes the pixels (a walk over the chunk headers, no inflating)."""
    pos, seen_idat, n = 8, False, len(data)
    while pos + 8 <= n:
        length, tag = struct.unpack_from(">I4s", data, pos)
        if tag == b"IDAT":
            seen_idat = True
        elif tag == b"eXIf" and seen_idat:
            return True
        elif tag == b"IEND":
            return False
        pos += 12 + length
    return False


def decode_16bit_colour(fmt: str, data: bytes) -> np.ndarray | None:
    """48/64-bit colour (or 32-bit grey+alpha) that Pillow would cut to 8 bits,
    by imagecodecs (libpng, libtiff: first page); None when it is missing."""
    ic = _module("imagecodecs")
    if ic is None or fmt not in ("PNG", "TIFF"):
        return None
    arr = ic.png_decode(data) if fmt == "PNG" else ic.tiff_decode(data, index=0)
    return arr[..., None] if arr.ndim == 2 else arr


def decode(kind: str, data: bytes, mode: str) -> np.ndarray:
    """``(H, W, C)`` samples of a PNG or JPEG file's bytes; any decoder error
    propagates (the caller falls back to Pillow)."""
    if kind == "png":
        arr = _module("imagecodecs").png_decode(data)  # type: ignore[union-attr]
    else:
        sj = _module("simplejpeg")
        # strict: a truncated or corrupt JPEG raises instead of coming back grey-filled
        arr = sj.decode_jpeg(data, colorspace="GRAY" if mode == "L" else "RGB", strict=True)  # type: ignore[union-attr]
    if arr.ndim == 2:
        arr = arr[..., None]
    return arr
