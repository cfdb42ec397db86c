"""Decoding TIFF with tifffile (16-bit, float, multi-sample), with Pillow as
the fallback for compressions tifffile cannot decode without ``imagecodecs``
(LZW, PackBits, JPEG) and for palette, bilevel, CMYK and YCbCr TIFFs."""

from __future__ import annotations

import numpy as np

from .image import one_line, too_large
from .pillow import read_pillow

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def read_tiff(fh, file_size, max_pixels, notes, fail):
    """Decode a TIFF with tifffile; Pillow for what tifffile cannot do here."""
    import tifffile  # local import: tifffile is only needed for TIFF files
    from tifffile import PHOTOMETRIC, SAMPLEFORMAT

    try:
        tf = tifffile.TiffFile(fh)
    except Exception as e:  # noqa: BLE001
        raise fail(f"corrupt TIFF file ({one_line(e) or type(e).__name__})") from None
    with tf:
        try:
            page = tf.pages.first if hasattr(tf.pages, "first") else tf.pages[0]
            n_pages = len(tf.pages)
        except Exception as e:  # noqa: BLE001
            raise fail(f"corrupt TIFF file ({one_line(e) or type(e).__name__})") from None
        w, h = int(page.imagewidth), int(page.imagelength)
        if max_pixels is not None and w * h > max_pixels:
            raise fail(too_large(w, h, max_pixels))
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
                    raise fail(f"cannot decode TIFF: {one_line(e) or type(e).__name__}") from None
        if data is not None:
            n_frames = _count_tiff_frames(tf, n_pages)
            if n_frames > 1:
                notes.append(f"{n_frames} frames: using the first")
            return _tiff_samples(page, data, notes, fail)

    # Pillow fallback (LZW, PackBits, JPEG, palette, bilevel, CMYK, YCbCr...)
    fh.seek(0)
    head = fh.read(32)
    fh.seek(0)
    return read_pillow(fh, head, max_pixels, notes, fail)


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
