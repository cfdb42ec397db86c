"""Reading one image file: :func:`load_image`.

Conventions:


* **Samples are never rescaled on load.** 8-bit files give ``uint8`` with range
  255, 16-bit files ``uint16`` with range 65535 (or ``2**bit_depth - 1`` with
  ``bit_depth``, e.g. 12-bit payloads in 16-bit PNGs; a sample above that is an
  error). Float files need ``data_range``; float data already inside [0, 1] is
  taken as range 1.0 with a warning, float data outside it is an error. An
  explicit ``data_range`` wins for every sample type. The range is never
  inferred from the content beyond that [0, 1] rule.
* **Decoders.** Pillow reads the header of PNG, JPEG, BMP, GIF, WebP and
  the rest; the pixels of PNG come from imagecodecs (libpng) and of JPEG from
  simplejpeg (libjpeg-turbo), the same samples as Pillow gives, faster and in
  parallel threads; Pillow decodes the rest and whatever those two refuse.
  tifffile decodes TIFF (16-bit, float, multi-sample), with Pillow as the
  fallback for palette, bilevel, CMYK and YCbCr TIFFs and for compressions
  tifffile cannot decode without ``imagecodecs``.
* **16-bit colour PNGs are decoded losslessly** by imagecodecs. Pillow (13.0
  included) would keep only the high byte of each sample, so without
  imagecodecs such a file is an error naming the missing decoder.
* **Palette** images are expanded to RGB, or RGBA when they carry
  transparency. **1-bit** images become ``uint8`` 0/255 with range 255, so
  they compare directly with 8-bit files. CMYK is converted to RGB by Pillow's
  naive formula, with a warning. A single-colour transparency key (PNG
  ``tRNS`` on grey or RGB) becomes an alpha channel.
* **Alpha** is the last channel (``C`` = 2 for grey+alpha, 4 for RGBA), on
  the same scale as the colour samples, and *straight* (not premultiplied)
  unless :attr:`LoadedImage.alpha_associated` says the file stored
  premultiplied colour (TIFF ``ExtraSamples = 1``).
* **Pixels are taken as stored**: no ICC or gamma conversion, so both files
  of a pair must be stored the same way. An EXIF Orientation tag other than 1
  is applied only with ``exif_transpose`` (all 8, on the decoded samples, any
  bit depth); otherwise it is left alone with a warning. The ICC profile's
  bytes are kept (:attr:`LoadedImage.icc_profile`) so that a pair can say
  when its two profiles differ.
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

import math
import os
import stat

import numpy as np

from ..errors import ImageLoadError
from ..spelling import spell
from .image import (
    DEFAULT_MAX_PIXELS,
    ORIENTATIONS,
    LoadedImage,
    apply_orientation,
    one_line,
)
from .pillow import read_pillow
from .tiff import TIFF_MAGIC, read_tiff


def load_image(
    path: str | os.PathLike[str],
    *,
    bit_depth: int | None = None,
    data_range: float | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    exif_transpose: bool = False,
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
        exif_transpose: apply the file's EXIF Orientation tag to the
            samples (else they stay as stored, with a warning).

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
        raise fail("broken symbolic link" if os.path.islink(spath) else "no such file") from None
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as e:
        raise fail(f"cannot read: {one_line(e.strerror or e)}") from None
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
        raise fail(f"cannot read: {one_line(e.strerror or e)}") from None

    notes: list[str] = []
    meta: dict = {}
    with fh:
        try:
            head = fh.read(32)
            fh.seek(0)
        except OSError as e:
            raise fail(f"cannot read: {one_line(e.strerror or e)}") from None
        if head[:4] in TIFF_MAGIC:
            decoded = read_tiff(fh, st.st_size, max_pixels, notes, fail)
        else:
            decoded = read_pillow(fh, head, max_pixels, notes, fail, meta)

    arr, has_alpha, associated, fmt = decoded
    arr, rng = _resolve_range(arr, bit_depth, data_range, notes, fail)
    orientation = meta.get("orientation")
    if orientation in (None, 1):
        orientation = None
    elif exif_transpose:
        arr, orientation = apply_orientation(arr, orientation), None
    else:
        notes.append(f"EXIF orientation {orientation} ({ORIENTATIONS[orientation]}) ignored: pixels compared "
                     f"as stored; {spell('exif_transpose')} applies it")
    return LoadedImage(
        path=spath,
        pixels=arr,
        data_range=rng,
        has_alpha=has_alpha,
        warnings=notes,
        alpha_associated=associated and has_alpha,
        format=fmt,
        orientation=orientation,
        icc_profile=meta.get("icc_profile"),
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
                    f"{dt.name} samples: pass {spell('data_range')}"
                )
            if lo < 0.0 or hi > 1.0:
                raise fail(
                    f"float image with values in [{lo:.6g}, {hi:.6g}], outside [0, 1]: "
                    f"pass {spell('data_range')}"
                )
            notes.append(f"float image without {spell('data_range')}: assuming 1.0")
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
            raise fail(f"unsupported sample type {dt.name}: pass {spell('data_range')}")
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
