"""Tests for iqa_cli.io: decoding real files and preparing pairs.

Every test writes its own files into ``tmp_path`` (Pillow, tifffile, or the
small PNG/TIFF writers below for what no installed library writes: 16-bit
colour PNG, interlaced PNG, low-bit-depth grey with a transparency key, a
header that claims a huge size) and checks the decoded values exactly.
"""

from __future__ import annotations

import os
import struct
import time
import warnings
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile, features

import iqa_cli.io.load as iio_load
import iqa_cli.io.pillow as iio_pillow
from iqa_cli.errors import ImageLoadError, PairError, SizeMismatchError
from iqa_cli.io import (
    DEFAULT_MAX_PIXELS,
    LoadedImage,
    PreparedPair,
    load_image,
    parse_alpha,
    prepare_pair,
)

RNG = np.random.default_rng(20240611)


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------

_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _pack_rows(arr: np.ndarray, bit_depth: int) -> np.ndarray:
    """(H, W, C) samples -> (H, rowbytes) uint8, big-endian / MSB-first."""
    h, w, c = arr.shape
    if bit_depth == 16:
        return arr.astype(">u2").view(np.uint8).reshape(h, w * c * 2)
    if bit_depth == 8:
        return arr.astype(np.uint8).reshape(h, w * c)
    per = 8 // bit_depth  # sub-byte grey or palette, c == 1
    flat = arr.reshape(h, w).astype(np.uint8)
    pad = (-w) % per
    flat = np.pad(flat, ((0, 0), (0, pad))).reshape(h, -1, per)
    shifts = np.array([8 - bit_depth * (i + 1) for i in range(per)], dtype=np.uint8)
    return (flat << shifts).sum(axis=2, dtype=np.uint16).astype(np.uint8)


def _filter_rows(rows: np.ndarray, bpp: int) -> bytes:
    """Apply PNG filters, cycling through all five types row by row."""
    out = []
    prev = np.zeros(rows.shape[1], np.int16)
    for y, row in enumerate(rows.astype(np.int16)):
        a = np.concatenate([np.zeros(bpp, np.int16), row[:-bpp]])
        c = np.concatenate([np.zeros(bpp, np.int16), prev[:-bpp]])
        b = prev
        ftype = y % 5
        if ftype == 0:
            f = row
        elif ftype == 1:
            f = row - a
        elif ftype == 2:
            f = row - b
        elif ftype == 3:
            f = row - (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
            pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
            f = row - pred
        out.append(bytes([ftype]) + (f % 256).astype(np.uint8).tobytes())
        prev = row
    return b"".join(out)


def write_png(path, arr, *, bit_depth=8, color_type=None, interlace=False, trns=None, plte=None, size=None):
    """Minimal PNG encoder: any colour type and depth, all filters, Adam7.

    ``size`` writes that (W, H) into IHDR whatever ``arr`` is (for bomb tests).
    """
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    h, w, c = arr.shape
    if color_type is None:
        color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    assert _CHANNELS[color_type] == c
    bpp = max(1, c * bit_depth // 8)
    if interlace:
        parts = []
        for xs, ys, dx, dy in _ADAM7:
            sub = arr[ys::dy, xs::dx]
            if sub.size:
                parts.append(_filter_rows(_pack_rows(sub, bit_depth), bpp))
        raw = b"".join(parts)
    else:
        raw = _filter_rows(_pack_rows(arr, bit_depth), bpp)
    W, H = size if size is not None else (w, h)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", W, H, bit_depth, color_type, 0, 0, int(interlace))
    )
    if plte is not None:
        data += _png_chunk(b"PLTE", np.asarray(plte, np.uint8).tobytes())
    if trns is not None:
        data += _png_chunk(b"tRNS", trns)
    data += _png_chunk(b"IDAT", zlib.compress(raw, 6)) + _png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_tiff_header_only(path, width, height):
    """A little-endian TIFF whose IFD claims width x height, 8-bit grey, one tiny strip."""
    entries = [
        (256, 4, 1, width),  # ImageWidth LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression none
        (262, 3, 1, 1),  # MinIsBlack
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),  # StripOffsets: right after the IFD
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if typ == 3:  # SHORT, left-justified in the 4-byte value field
            ifd += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, typ, count, value)
    ifd += struct.pack("<I", 0)
    with open(path, "wb") as f:
        f.write(b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(16))
    return path


def rand(shape, dtype=np.uint8, hi=None):
    if np.dtype(dtype).kind == "f":
        return RNG.random(shape).astype(dtype)
    hi = np.iinfo(dtype).max if hi is None else hi
    return RNG.integers(0, hi + 1, shape, dtype=dtype)


def loaded(pixels, data_range, has_alpha=False, warnings=None, path="mem", **kw) -> LoadedImage:
    return LoadedImage(path, np.asarray(pixels), float(data_range), has_alpha, list(warnings or []), **kw)


# --------------------------------------------------------------------------
# PNG
# --------------------------------------------------------------------------


@pytest.mark.parametrize("mode,c", [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)])
def test_png_8bit_modes_exact(tmp_path, mode, c):
    a = rand((13, 17, c))
    p = tmp_path / f"{mode}.png"
    Image.fromarray(a[..., 0] if c == 1 else a, mode).save(p)
    im = load_image(p)
    assert im.pixels.dtype == np.uint8
    assert im.pixels.shape == (13, 17, c)
    np.testing.assert_array_equal(im.pixels, a)
    assert im.data_range == 255.0
    assert im.has_alpha == (c in (2, 4))
    assert im.channels == (1 if c <= 2 else 3)
    assert (im.width, im.height, im.shape_str) == (17, 13, "17x13")
    assert im.warnings == []
    assert im.format == "PNG"
    assert im.path == str(p)
    assert im.pixels.flags.writeable and im.pixels.flags.c_contiguous


@pytest.mark.parametrize("c", [1, 2, 3, 4])
@pytest.mark.parametrize("interlace", [False, True])
def test_png_16bit_lossless(tmp_path, c, interlace):
    # 16-bit colour PNGs: Pillow alone keeps only the high byte; io must not.
    a = rand((11, 19, c), np.uint16)
    a[0, 0] = 0x0102  # low byte differs from high byte everywhere it matters
    a[-1, -1] = 0xFFFF
    p = write_png(tmp_path / "x16.png", a, bit_depth=16, interlace=interlace)
    im = load_image(p)
    assert im.pixels.dtype == np.uint16
    assert im.pixels.shape == (11, 19, c)
    np.testing.assert_array_equal(im.pixels, a)
    assert im.data_range == 65535.0
    assert im.has_alpha == (c in (2, 4))


def test_png_16bit_grey_written_by_pillow(tmp_path):
    a = rand((9, 10), np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(a).save(p)  # mode I;16
    im = load_image(p)
    assert im.pixels.dtype == np.uint16
    np.testing.assert_array_equal(im.pixels[..., 0], a)


def test_png_16bit_rgb_with_transparency_key(tmp_path):
    a = rand((6, 7, 3), np.uint16)
    key = (1000, 2000, 3000)
    a[2, 3] = key
    p = write_png(tmp_path / "k16.png", a, bit_depth=16, trns=struct.pack(">HHH", *key))
    im = load_image(p)
    assert im.pixels.dtype == np.uint16 and im.has_alpha and im.pixels.shape == (6, 7, 4)
    np.testing.assert_array_equal(im.pixels[..., :3], a)
    expect = np.full((6, 7), 65535, np.uint16)
    expect[2, 3] = 0
    np.testing.assert_array_equal(im.pixels[..., 3], expect)


def test_png_8bit_rgb_and_grey_transparency_key(tmp_path):
    a = rand((5, 6, 3))
    a[0, 0] = (1, 2, 3)
    a[a.sum(axis=2) == 6] = (9, 9, 9)
    a[0, 0] = (1, 2, 3)
    im = load_image(write_png(tmp_path / "k8.png", a, trns=struct.pack(">HHH", 1, 2, 3)))
    assert im.has_alpha and im.pixels.shape == (5, 6, 4)
    assert im.pixels[0, 0, 3] == 0 and (im.pixels[..., 3] == 255).sum() == 29
    g = np.array([[0, 1, 2, 3]], np.uint8)  # 2-bit grey, key = 2 (raw sample value)
    im = load_image(write_png(tmp_path / "g2.png", g, bit_depth=2, trns=struct.pack(">H", 2)))
    np.testing.assert_array_equal(im.pixels[0, :, 0], [0, 85, 170, 255])
    np.testing.assert_array_equal(im.pixels[0, :, 1], [255, 255, 0, 255])


def test_png_12bit_payload_with_bit_depth(tmp_path):
    a = rand((8, 8, 3), np.uint16, hi=4095)
    a[0, 0, 0] = 4095
    p = write_png(tmp_path / "b12.png", a, bit_depth=16)
    im = load_image(p, bit_depth=12)
    assert im.data_range == 4095.0
    np.testing.assert_array_equal(im.pixels, a)
    assert load_image(p).data_range == 65535.0
    a[1, 1, 1] = 4096
    write_png(p, a, bit_depth=16)
    with pytest.raises(ImageLoadError, match="sample value 4096 exceeds bit depth 12"):
        load_image(p, bit_depth=12)


def test_bit_depth_wider_than_samples_is_an_error(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(rand((4, 4, 3))).save(p)
    with pytest.raises(ImageLoadError, match="bit depth 10 does not fit"):
        load_image(p, bit_depth=10)
    im = load_image(p, bit_depth=8)
    assert im.data_range == 255.0


def test_palette_png_with_and_without_transparency(tmp_path):
    pal = rand((16, 3))
    idx = rand((7, 9), hi=15)
    p = tmp_path / "p.png"
    im = Image.fromarray(idx, "P")
    im.putpalette(pal.ravel().tolist())
    im.save(p)
    got = load_image(p)
    assert got.pixels.shape == (7, 9, 3) and not got.has_alpha
    np.testing.assert_array_equal(got.pixels, pal[idx])
    alphas = rand((16,))
    p2 = write_png(tmp_path / "pt.png", idx, color_type=3, plte=pal, trns=alphas.tobytes())
    got = load_image(p2)
    assert got.pixels.shape == (7, 9, 4) and got.has_alpha
    np.testing.assert_array_equal(got.pixels[..., :3], pal[idx])
    np.testing.assert_array_equal(got.pixels[..., 3], alphas[idx])


def test_palette_png_4bit(tmp_path):
    pal = rand((16, 3))
    idx = rand((5, 7), hi=15)
    got = load_image(write_png(tmp_path / "p4.png", idx, bit_depth=4, color_type=3, plte=pal, interlace=True))
    np.testing.assert_array_equal(got.pixels, pal[idx])


def test_one_bit_png_is_0_255(tmp_path):
    a = rand((6, 11), hi=1).astype(bool)
    p = tmp_path / "b.png"
    Image.fromarray(a).save(p)
    im = load_image(p)
    assert im.pixels.dtype == np.uint8 and im.data_range == 255.0
    np.testing.assert_array_equal(im.pixels[..., 0], a.astype(np.uint8) * 255)


def test_apng_first_frame_with_warning(tmp_path):
    frames = [rand((8, 8, 3)) for _ in range(3)]
    p = tmp_path / "anim.png"
    Image.fromarray(frames[0]).save(p, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]])
    im = load_image(p)
    np.testing.assert_array_equal(im.pixels, frames[0])
    assert im.warnings == ["3 frames: using the first"]


# --------------------------------------------------------------------------
# Other formats
# --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_jpeg(tmp_path, mode):
    yy, xx = np.mgrid[0:16, 0:24]
    a = np.stack([xx * 10, yy * 15, (xx + yy) * 6], axis=2).astype(np.uint8)  # smooth: JPEG-friendly
    src = Image.fromarray(a).convert(mode)
    p = tmp_path / "a.jpg"
    src.save(p, quality=95, subsampling=0)
    im = load_image(p)
    expect = np.asarray(Image.open(p))
    expect = expect[..., None] if expect.ndim == 2 else expect
    np.testing.assert_array_equal(im.pixels, expect)
    assert im.pixels.shape == (16, 24, 1 if mode == "L" else 3)
    assert im.pixels.dtype == np.uint8 and im.data_range == 255.0 and im.format == "JPEG"
    # a lossy format: near the source, not equal
    assert np.abs(im.pixels.astype(int) - np.asarray(src).reshape(im.pixels.shape)).max() <= 8


def test_cmyk_jpeg_warns(tmp_path):
    p = tmp_path / "c.jpg"
    Image.fromarray(rand((8, 8, 3))).convert("CMYK").save(p)
    im = load_image(p)
    assert im.pixels.shape == (8, 8, 3)
    assert any("CMYK" in w for w in im.warnings)


@pytest.mark.parametrize("mode", ["L", "RGB", "P"])
def test_bmp(tmp_path, mode):
    a = rand((5, 7, 3 if mode == "RGB" else 1))
    p = tmp_path / "a.bmp"
    src = Image.fromarray(a if mode == "RGB" else a[..., 0], "RGB" if mode == "RGB" else "L")
    if mode == "P":
        pal = rand((256, 3))
        src = Image.fromarray(a[..., 0], "P")
        src.putpalette(pal.ravel().tolist())
        a = pal[a[..., 0]]
    src.save(p)
    im = load_image(p)
    assert im.format == "BMP" and im.pixels.dtype == np.uint8 and not im.has_alpha
    np.testing.assert_array_equal(im.pixels, a)


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_webp_lossless(tmp_path, mode):
    a = rand((10, 12, len(mode)))
    p = tmp_path / "a.webp"
    Image.fromarray(a, mode).save(p, lossless=True, exact=True)
    im = load_image(p)
    np.testing.assert_array_equal(im.pixels, a)
    assert im.has_alpha == (mode == "RGBA")


def test_gif_single_and_animated(tmp_path):
    pal = rand((256, 3))
    pal[:, 0] = np.arange(256)  # distinct, non-grey entries
    idx = [rand((6, 8)) for _ in range(3)]
    frames = []
    for i in idx:
        im = Image.fromarray(i, "P")
        im.putpalette(pal.ravel().tolist())
        frames.append(im)
    p1 = tmp_path / "one.gif"
    frames[0].save(p1)
    got = load_image(p1)
    np.testing.assert_array_equal(got.pixels, pal[idx[0]])
    assert got.warnings == []
    p3 = tmp_path / "anim.gif"
    frames[0].save(p3, save_all=True, append_images=frames[1:], duration=50, loop=0)
    got = load_image(p3)
    np.testing.assert_array_equal(got.pixels, pal[idx[0]])
    assert got.warnings == ["3 frames: using the first"]


def test_gif_with_transparency(tmp_path):
    pal = rand((256, 3))
    pal[:, 0] = np.arange(256)
    idx = rand((4, 5))
    idx[1, 1] = 7
    idx[idx == 7] = 8
    idx[1, 1] = 7
    im = Image.fromarray(idx, "P")
    im.putpalette(pal.ravel().tolist())
    p = tmp_path / "t.gif"
    im.save(p, transparency=7)
    got = load_image(p)
    assert got.has_alpha and got.pixels.shape == (4, 5, 4)
    assert got.pixels[1, 1, 3] == 0 and (got.pixels[..., 3] == 255).sum() == 19


# --------------------------------------------------------------------------
# TIFF
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype,c,kw",
    [
        (np.uint8, 3, {}),
        (np.uint16, 3, {}),
        (np.uint16, 1, {}),
        (np.uint16, 4, {"extrasamples": ["unassalpha"]}),
        (np.uint16, 3, {"compression": "zlib", "predictor": True}),
        (np.uint16, 3, {"planarconfig": "separate"}),
        (np.uint8, 2, {"photometric": "minisblack", "extrasamples": ["unassalpha"]}),
    ],
)
def test_tiff_integer_exact(tmp_path, dtype, c, kw):
    a = rand((9, 11, c), dtype)
    p = tmp_path / "a.tif"
    kw = dict(kw)
    if kw.get("planarconfig") == "separate":
        tifffile.imwrite(p, np.moveaxis(a, 2, 0), photometric="rgb", **kw)
    else:
        kw.setdefault("photometric", "rgb" if c >= 3 else "minisblack")
        tifffile.imwrite(p, a if c > 1 else a[..., 0], **kw)
    im = load_image(p)
    assert im.pixels.dtype == dtype
    np.testing.assert_array_equal(im.pixels, a)
    assert im.data_range == float(np.iinfo(dtype).max)
    assert im.has_alpha == (c in (2, 4))
    assert im.warnings == []


def test_tiff_float_in_unit_range_warns(tmp_path):
    a = rand((8, 9, 3), np.float32)
    a[0, 0] = (0.0, 1.0, 0.5)
    p = tmp_path / "f.tif"
    tifffile.imwrite(p, a, photometric="rgb")
    im = load_image(p)
    assert im.pixels.dtype == np.float32
    np.testing.assert_array_equal(im.pixels, a)
    assert im.data_range == 1.0
    assert im.warnings == ["float image without data_range: assuming 1.0"]
    im = load_image(p, data_range=1.0)
    assert im.warnings == [] and im.data_range == 1.0


def test_tiff_float_outside_unit_range(tmp_path):
    a = rand((8, 9), np.float32) * 300
    a[0, 0] = 299.5
    p = tmp_path / "f.tif"
    tifffile.imwrite(p, a)
    with pytest.raises(ImageLoadError, match=r"outside \[0, 1\]: pass data_range"):
        load_image(p)
    im = load_image(p, data_range=300)
    assert im.data_range == 300.0 and im.warnings == []
    np.testing.assert_array_equal(im.pixels[..., 0], a)
    with pytest.raises(ImageLoadError, match="integer images"):
        load_image(p, bit_depth=12)


def test_tiff_float64_negative_values_error(tmp_path):
    a = rand((4, 4)).astype(np.float64) - 0.5
    p = tmp_path / "neg.tif"
    tifffile.imwrite(p, a)
    with pytest.raises(ImageLoadError, match="pass data_range"):
        load_image(p)
    im = load_image(p, data_range=1.0)
    assert im.pixels.dtype == np.float64
    assert any("outside the data range" in w for w in im.warnings)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_tiff_float_non_finite_is_error(tmp_path, bad):
    a = rand((5, 5), np.float32)
    a[2, 2] = bad
    p = tmp_path / "nan.tif"
    tifffile.imwrite(p, a)
    with pytest.raises(ImageLoadError, match="NaN or infinite"):
        load_image(p)
    with pytest.raises(ImageLoadError, match="NaN or infinite"):
        load_image(p, data_range=1.0)


def test_tiff_float16_becomes_float32(tmp_path):
    a = rand((4, 4), np.float32).astype(np.float16)
    p = tmp_path / "h.tif"
    tifffile.imwrite(p, a)
    im = load_image(p)
    assert im.pixels.dtype == np.float32
    np.testing.assert_array_equal(im.pixels[..., 0], a.astype(np.float32))


def test_tiff_signed_needs_data_range(tmp_path):
    a = RNG.integers(-100, 100, (4, 4), dtype=np.int16)
    p = tmp_path / "s.tif"
    tifffile.imwrite(p, a)
    with pytest.raises(ImageLoadError, match="unsupported sample type int16: pass data_range"):
        load_image(p)
    im = load_image(p, data_range=200)
    assert im.pixels.dtype == np.float64
    np.testing.assert_array_equal(im.pixels[..., 0], a)


def test_tiff_multipage_first_page(tmp_path):
    pages = rand((3, 6, 7), np.uint16)
    p = tmp_path / "stack.tif"
    with tifffile.TiffWriter(p) as tw:
        for pg in pages:
            tw.write(pg, contiguous=False)
    im = load_image(p)
    np.testing.assert_array_equal(im.pixels[..., 0], pages[0])
    assert im.warnings == ["3 frames: using the first"]


@pytest.mark.parametrize("mode", ["RGB", "I;16", "L"])
def test_tiff_lzw_via_pillow(tmp_path, mode):
    # tifffile cannot decode LZW without imagecodecs: Pillow takes over, losslessly.
    a = rand((7, 9, 3)) if mode == "RGB" else rand((7, 9), np.uint16 if mode == "I;16" else np.uint8)
    p = tmp_path / "lzw.tif"
    Image.fromarray(a).save(p, compression="tiff_lzw")
    im = load_image(p)
    np.testing.assert_array_equal(im.pixels.reshape(a.shape), a)
    assert im.pixels.dtype == a.dtype


@pytest.mark.parametrize("byteorder", "<>")
@pytest.mark.parametrize("compression", [None, "zlib"])  # Pillow's raw decoder, then libtiff
@pytest.mark.parametrize("c", [3, 4])
def test_tiff_16bit_colour_through_pillow_path_is_lossless(tmp_path, byteorder, compression, c):
    # the Pillow fallback uses the same high/low byte decoding as 16-bit PNG
    a = rand((5, 6, c), np.uint16)
    p = tmp_path / "rgb16.tif"
    extra = {"extrasamples": ["unassalpha"]} if c == 4 else {}
    tifffile.imwrite(p, a, photometric="rgb", byteorder=byteorder, compression=compression, **extra)
    with open(p, "rb") as fh:
        arr, has_alpha, assoc, fmt = iio_pillow.read_pillow(fh, fh.read(32), None, [], None)
    assert arr.dtype == np.uint16 and has_alpha == (c == 4) and fmt == "TIFF"
    np.testing.assert_array_equal(arr, a)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff_miniswhite_is_inverted(tmp_path, dtype):
    a = rand((4, 6), dtype)
    p = tmp_path / "w.tif"
    tifffile.imwrite(p, a, photometric="miniswhite")
    im = load_image(p)
    np.testing.assert_array_equal(im.pixels[..., 0], np.iinfo(dtype).max - a)


def test_tiff_thumbnail_page_is_not_a_frame(tmp_path):
    a = rand((16, 16, 3))
    p = tmp_path / "thumb.tif"
    with tifffile.TiffWriter(p) as tw:
        tw.write(a, photometric="rgb")
        tw.write(a[::4, ::4], photometric="rgb", subfiletype=1)
    im = load_image(p)
    np.testing.assert_array_equal(im.pixels, a)
    assert im.warnings == []


def test_tiff_associated_alpha_is_flagged(tmp_path):
    straight = rand((4, 5, 3))
    alpha = rand((4, 5, 1))
    premul = np.round(straight.astype(float) * alpha / 255).astype(np.uint8)
    p = tmp_path / "assoc.tif"
    stored = np.concatenate([premul, alpha], axis=2)
    tifffile.imwrite(p, stored, photometric="rgb", extrasamples=["assocalpha"])
    im = load_image(p)
    assert im.has_alpha and im.alpha_associated
    np.testing.assert_array_equal(im.pixels[..., :3], premul)
    pair = prepare_pair(im, im)
    np.testing.assert_array_equal(pair.reference[:3], np.moveaxis(premul, 2, 0))
    np.testing.assert_array_equal(pair.reference[3], alpha[..., 0])


def test_tiff_unspecified_extra_sample_ignored(tmp_path):
    a = rand((4, 5, 4))
    p = tmp_path / "x.tif"
    tifffile.imwrite(p, a, photometric="rgb", extrasamples=["unspecified"])
    im = load_image(p)
    assert not im.has_alpha and im.pixels.shape == (4, 5, 3)
    np.testing.assert_array_equal(im.pixels, a[..., :3])
    assert any("extra TIFF sample" in w for w in im.warnings)


def test_tiff_truncated(tmp_path):
    p = tmp_path / "a.tif"
    tifffile.imwrite(p, rand((32, 32, 3)), photometric="rgb")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 100])
    with pytest.raises(ImageLoadError, match="truncated TIFF"):
        load_image(p)


# --------------------------------------------------------------------------
# Errors, one line each
# --------------------------------------------------------------------------


def _err(path, **kw) -> str:
    with pytest.raises(ImageLoadError) as ei:
        load_image(path, **kw)
    msg = str(ei.value)
    assert "\n" not in msg
    assert ei.value.path == str(path)
    assert msg.startswith(str(path) + ": ")
    return ei.value.reason


def test_missing_file(tmp_path):
    assert _err(tmp_path / "nope.png") == "no such file"
    assert _err(tmp_path / "nodir" / "nope.png") == "no such file"


def test_directory(tmp_path):
    assert "is a directory" in _err(tmp_path)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    assert "empty file" in _err(p)


def test_text_file_named_png(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, I am not a picture\n")
    assert _err(p) == "not an image (cannot identify image format)"


@pytest.mark.parametrize(
    "head,name",
    [
        (b"v/1\x01" + bytes(60), "OpenEXR"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(60), "HEIF"),
        (b"\xff\x0a" + bytes(60), "JPEG XL"),
    ],
)
def test_unsupported_format(tmp_path, head, name):
    p = tmp_path / "x.img"
    p.write_bytes(head)
    assert _err(p) == f"unsupported image format ({name})"


@pytest.mark.parametrize("frac", [0.02, 0.3, 0.7, 0.97])
def test_truncated_png(tmp_path, frac):
    p = tmp_path / "t.png"
    Image.fromarray(rand((64, 64, 3))).save(p)
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * frac)])
    reason = _err(p)
    assert "truncated" in reason or "corrupt" in reason


def test_truncated_16bit_png(tmp_path):
    p = write_png(tmp_path / "t16.png", rand((32, 32, 3), np.uint16), bit_depth=16)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    assert "truncated" in _err(p)


@pytest.mark.parametrize("frac", [0.05, 0.5, 0.95])
def test_truncated_jpeg(tmp_path, frac):
    p = tmp_path / "t.jpg"
    Image.fromarray(rand((64, 64, 3))).save(p, quality=90)
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * frac)])
    reason = _err(p)
    assert "truncated" in reason or "corrupt" in reason


def test_truncated_even_if_pillow_is_lenient(tmp_path, monkeypatch):
    # a user (or another library) may have relaxed Pillow: io stays strict
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    p = tmp_path / "t.png"
    Image.fromarray(rand((64, 64, 3))).save(p)
    p.write_bytes(p.read_bytes()[:3000])
    assert "truncated" in _err(p)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_png_and_jpeg_pixels_decode_in_parallel(tmp_path, monkeypatch, ext):
    # Two threads must be inside Pillow's load() at once: a barrier that both
    # have to reach would time out if decoding were serialised by io's lock.
    # Meanwhile the caller's lenient LOAD_TRUNCATED_IMAGES is off, and it is
    # restored once the last decode ends.
    import threading

    monkeypatch.setenv("IQA_FAST_DECODE", "0")  # Pillow's load() decodes (tests/test_decoders.py: the fast path)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    barrier = threading.Barrier(2, timeout=10)
    seen, met = [], set()
    load = ImageFile.ImageFile.load

    def meeting_load(self):
        if self.format in ("PNG", "JPEG") and id(self) not in met:  # load() may be called again once loaded
            met.add(id(self))
            barrier.wait()
            seen.append(ImageFile.LOAD_TRUNCATED_IMAGES)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", meeting_load)
    paths = []
    for i in range(2):
        p = tmp_path / f"{i}.{ext}"
        Image.fromarray(rand((48, 64, 3))).save(p)
        paths.append(p)
    out: list = [None, None]

    def run(i):
        try:
            out[i] = load_image(paths[i]).width
        except Exception as e:  # noqa: BLE001 - reported below
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [64, 64]
    assert seen == [False, False]
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied_real(tmp_path):
    p = tmp_path / "secret.png"
    Image.fromarray(rand((4, 4, 3))).save(p)
    p.chmod(0)
    try:
        assert _err(p) == "permission denied"
    finally:
        p.chmod(0o644)


def test_permission_denied_mapped(tmp_path, monkeypatch):
    # works as root too: io's open() raises what the OS would
    p = tmp_path / "secret.png"
    Image.fromarray(rand((4, 4, 3))).save(p)

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(iio_load, "open", deny, raising=False)
    assert _err(p) == "permission denied"


def test_special_file_refused(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    p = tmp_path / "fifo.png"
    os.mkfifo(p)
    assert _err(p) == "not a regular file"


def test_parameter_validation(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(rand((4, 4, 3))).save(p)
    for kw in ({"bit_depth": 0}, {"bit_depth": 17}, {"bit_depth": 8.5}, {"data_range": 0},
               {"data_range": -1}, {"data_range": float("nan")}, {"max_pixels": 0}):
        with pytest.raises(ValueError):
            load_image(p, **kw)


# --------------------------------------------------------------------------
# Size limit (decompression bombs)
# --------------------------------------------------------------------------


def test_png_header_claiming_huge_size_is_refused_before_decoding(tmp_path):
    p = write_png(tmp_path / "bomb.png", np.zeros((1, 1, 3), np.uint8), size=(100000, 100000))
    assert p.stat().st_size < 200
    t0 = time.perf_counter()
    reason = _err(p)
    assert time.perf_counter() - t0 < 1.0
    assert "100000x100000" in reason and "10000000000 pixels" in reason
    assert str(DEFAULT_MAX_PIXELS) in reason
    assert "before decoding" in reason


def test_tiff_header_claiming_huge_size_is_refused(tmp_path):
    p = write_tiff_header_only(tmp_path / "bomb.tif", 70000, 70000)
    reason = _err(p)
    assert "70000x70000" in reason and "limit" in reason


def test_max_pixels_is_configurable_and_exact(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(rand((64, 64, 3))).save(p)
    assert load_image(p, max_pixels=4096).width == 64
    assert "4096 pixels, above the limit of 4095" in _err(p, max_pixels=4095)
    assert load_image(p, max_pixels=None).width == 64
    t = tmp_path / "a.tif"
    tifffile.imwrite(t, rand((64, 64)))
    assert "limit of 100 pixels" in _err(t, max_pixels=100)


def test_pillow_limit_follows_ours(tmp_path, monkeypatch):
    # A tiny Pillow limit must neither refuse an image our limit allows nor
    # leak a DecompressionBombWarning; Pillow's setting is restored after.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    p16 = write_png(tmp_path / "a16.png", rand((40, 40, 3), np.uint16), bit_depth=16)  # split decoding
    p8 = tmp_path / "a8.png"
    Image.fromarray(rand((40, 40, 3))).save(p8)
    for p in (p16, p8):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert load_image(p).width == 40
            assert load_image(p, max_pixels=1600).width == 40
            assert "limit of 1599" in _err(p, max_pixels=1599)
    assert Image.MAX_IMAGE_PIXELS == 10


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["with space.png", "ünïcødé 画像 файл.png", "a'b\"c.tif"])
def test_unusual_names(tmp_path, name):
    p = tmp_path / name
    a = rand((3, 4, 3))
    if name.endswith(".tif"):
        tifffile.imwrite(p, a, photometric="rgb")
    else:
        Image.fromarray(a).save(p, format="PNG")
    im = load_image(str(p))
    np.testing.assert_array_equal(im.pixels, a)
    assert im.path == str(p)
    q = tmp_path / ("missing " + name)
    assert str(q) in str(pytest.raises(ImageLoadError, load_image, q).value)


# --------------------------------------------------------------------------
# parse_alpha
# --------------------------------------------------------------------------


def test_parse_alpha():
    assert parse_alpha("premultiplied") == ("premultiplied", None)
    assert parse_alpha("drop") == ("drop", None)
    assert parse_alpha("over=white") == ("over", (255.0, 255.0, 255.0))
    assert parse_alpha("over=black") == ("over", (0.0, 0.0, 0.0))
    assert parse_alpha("over=#FF8000") == ("over", (255.0, 128.0, 0.0))
    for bad in ("", "over", "over=", "over=red", "over=#fff", "over=#12345g", "multiply"):
        with pytest.raises(ValueError, match="alpha"):
            parse_alpha(bad)


# --------------------------------------------------------------------------
# prepare_pair
# --------------------------------------------------------------------------


def test_size_mismatch_message():
    a = loaded(np.zeros((480, 640, 3), np.uint8), 255)
    b = loaded(np.zeros((480, 641, 3), np.uint8), 255)
    with pytest.raises(SizeMismatchError) as ei:
        prepare_pair(a, b)
    assert str(ei.value) == "size mismatch: 640x480 vs 641x480"
    assert isinstance(ei.value, PairError)


def test_plain_rgb_pair():
    a, b = rand((5, 6, 3)), rand((5, 6, 3))
    pair = prepare_pair(loaded(a, 255), loaded(b, 255))
    assert isinstance(pair, PreparedPair)
    # nothing to compute: the stored samples are kept (no float64 copy)
    assert pair.reference.dtype == np.uint8 and pair.distorted.dtype == np.uint8
    assert pair.reference.shape == (3, 5, 6)
    assert pair.reference.flags.c_contiguous and pair.distorted.flags.c_contiguous
    np.testing.assert_array_equal(pair.reference, np.moveaxis(a, 2, 0))
    np.testing.assert_array_equal(pair.distorted, np.moveaxis(b, 2, 0))
    assert (pair.channels, pair.height, pair.width, pair.data_range) == (3, 5, 6, 255.0)
    assert pair.warnings == []


def test_prepared_dtypes():
    a8 = rand((5, 6, 3))
    a16 = (a8.astype(np.uint16) * 257 + 3).astype(np.uint16)
    # 16-bit samples as float32: exact (integers below 2**24)
    p16 = prepare_pair(loaded(a16, 65535), loaded(a16, 65535))
    assert p16.reference.dtype == np.float32
    np.testing.assert_array_equal(p16.reference.astype(np.uint16), np.moveaxis(a16, 2, 0))
    # 8-bit next to 16-bit: the 8-bit side is scaled, both become float64
    mixed = prepare_pair(loaded(a8, 255), loaded(a16, 65535))
    assert mixed.reference.dtype == mixed.distorted.dtype == np.float64
    np.testing.assert_array_equal(mixed.reference, np.moveaxis(a8, 2, 0) * 257.0)
    # float images keep their float type
    f = a8.astype(np.float32) / 255
    pf = prepare_pair(loaded(f, 1.0), loaded(f, 1.0))
    assert pf.reference.dtype == np.float32
    # transparency is applied in float64
    rgba = rand((5, 6, 4))
    rgba[0, 0, 3] = 7
    pa = prepare_pair(loaded(rgba, 255, True), loaded(rgba, 255, True))
    assert pa.reference.dtype == np.float64 and pa.reference.shape == (4, 5, 6)
    assert pa.reference[0, 0, 0] == rgba[0, 0, 0] * 7.0 / 255.0


def test_grey_pair_stays_one_channel():
    a = rand((5, 6, 1))
    pair = prepare_pair(loaded(a, 255), loaded(a, 255))
    assert pair.reference.shape == (1, 5, 6)


def test_hidden_colour_under_transparency_never_counts(tmp_path):
    rgba = rand((6, 8, 4))
    rgba[:3, :, 3] = 0  # fully transparent rows
    other = rgba.copy()
    other[:3, :, :3] = rand((3, 8, 3))  # different hidden colour
    pa, pb = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(rgba, "RGBA").save(pa)
    Image.fromarray(other, "RGBA").save(pb)
    ia, ib = load_image(pa), load_image(pb)
    assert not np.array_equal(ia.pixels, ib.pixels)
    pair = prepare_pair(ia, ib)
    assert pair.reference.shape == (4, 6, 8)
    np.testing.assert_array_equal(pair.reference, pair.distorted)
    # premultiplied values, alpha as its own channel
    exp = rgba[..., :3].astype(float) * rgba[..., 3:].astype(float) / 255
    np.testing.assert_array_equal(pair.reference[:3], np.moveaxis(exp, 2, 0))
    np.testing.assert_array_equal(pair.reference[3], rgba[..., 3])
    # drop: the hidden colour is compared
    d = prepare_pair(ia, ib, alpha="drop")
    assert d.reference.shape == (3, 6, 8)
    assert not np.array_equal(d.reference, d.distorted)


def test_alpha_only_change_counts():
    rgb = rand((4, 4, 3))
    a = np.concatenate([rgb, np.full((4, 4, 1), 255, np.uint8)], axis=2)
    b = a.copy()
    b[0, 0, 3] = 254
    pair = prepare_pair(loaded(a, 255, True), loaded(b, 255, True))
    assert pair.channels == 4
    assert pair.reference[3, 0, 0] == 255 and pair.distorted[3, 0, 0] == 254
    # even with a black pixel there
    a[0, 0, :3] = 0
    b[0, 0, :3] = 0
    pair = prepare_pair(loaded(a, 255, True), loaded(b, 255, True))
    assert not np.array_equal(pair.reference, pair.distorted)


def test_opaque_rgba_equals_rgb(tmp_path):
    rgb = rand((6, 7, 3))
    pr, pa = tmp_path / "rgb.png", tmp_path / "rgba.png"
    Image.fromarray(rgb).save(pr)
    Image.fromarray(np.concatenate([rgb, np.full((6, 7, 1), 255, np.uint8)], axis=2), "RGBA").save(pa)
    ir, ia = load_image(pr), load_image(pa)
    other = rand((6, 7, 3))
    p1 = prepare_pair(ir, loaded(other, 255))
    p2 = prepare_pair(ia, loaded(other, 255))
    assert p1.channels == p2.channels == 3
    np.testing.assert_array_equal(p1.reference, p2.reference)
    np.testing.assert_array_equal(p1.distorted, p2.distorted)
    p3 = prepare_pair(ir, ia)
    np.testing.assert_array_equal(p3.reference, p3.distorted)
    assert p3.warnings == []


def test_one_image_with_transparency_other_opaque():
    rgb = rand((3, 3, 3))
    rgba = np.concatenate([rgb, np.full((3, 3, 1), 255, np.uint8)], axis=2)
    rgba[1, 1, 3] = 0
    pair = prepare_pair(loaded(rgb, 255), loaded(rgba, 255, True))
    assert pair.channels == 4
    np.testing.assert_array_equal(pair.reference[3], np.full((3, 3), 255.0))
    np.testing.assert_array_equal(pair.reference[:3], np.moveaxis(rgb, 2, 0))
    assert pair.distorted[:3, 1, 1].tolist() == [0, 0, 0]


def test_grey_alpha_gives_two_channels():
    la = rand((4, 5, 2))
    pair = prepare_pair(loaded(la, 255, True), loaded(la, 255, True))
    assert pair.reference.shape == (2, 4, 5)
    np.testing.assert_array_equal(pair.reference[0], la[..., 0] * la[..., 1].astype(float) / 255.0)
    np.testing.assert_array_equal(pair.reference[1], la[..., 1])


def test_grey_vs_rgb_replicates_with_warning(tmp_path):
    g = rand((5, 5))
    rgb = rand((5, 5, 3))
    pg, pc = tmp_path / "g.png", tmp_path / "c.png"
    Image.fromarray(g).save(pg)
    Image.fromarray(rgb).save(pc)
    pair = prepare_pair(load_image(pg), load_image(pc))
    assert pair.channels == 3
    for ch in range(3):
        np.testing.assert_array_equal(pair.reference[ch], g)
    assert pair.warnings == ["reference is greyscale, the other image colour: greyscale replicated to RGB"]
    pair = prepare_pair(load_image(pc), load_image(pg))
    assert "distorted is greyscale" in pair.warnings[0]


def test_8bit_vs_16bit_scaled_exactly(tmp_path):
    a8 = rand((5, 6, 3))
    a16 = a8.astype(np.uint16) * 257
    p8 = tmp_path / "a8.png"
    Image.fromarray(a8).save(p8)
    p16 = write_png(tmp_path / "a16.png", a16, bit_depth=16)
    pair = prepare_pair(load_image(p8), load_image(p16))
    assert pair.data_range == 65535.0
    np.testing.assert_array_equal(pair.reference, pair.distorted)
    assert len(pair.warnings) == 1
    assert pair.warnings[0].startswith("reference is 8-bit") and "(x257)" in pair.warnings[0]


def test_bit_depth_payload_vs_16bit():
    a = loaded(np.array([[[4095]]], np.uint16), 4095)
    b = loaded(np.array([[[65535]]], np.uint16), 65535)
    pair = prepare_pair(b, a)
    assert pair.data_range == 65535.0
    assert pair.distorted[0, 0, 0] == 65535.0


def test_float_vs_8bit_uses_larger_range():
    f = np.array([[[0.0], [0.5], [1.0]]], np.float32)
    u = np.array([[[0], [128], [255]]], np.uint8)
    ref = loaded(f, 1.0, warnings=["float image without data_range: assuming 1.0"])
    pair = prepare_pair(ref, loaded(u, 255))
    assert pair.data_range == 255.0
    np.testing.assert_array_equal(pair.reference[0, 0], [0.0, 127.5, 255.0])
    assert pair.warnings[0] == "reference: float image without data_range: assuming 1.0"
    assert "reference is float" in pair.warnings[1]


def test_load_warnings_are_prefixed_in_pair():
    a = loaded(rand((2, 2, 3)), 255, warnings=["3 frames: using the first"])
    b = loaded(rand((2, 2, 3)), 255, warnings=["x"])
    assert prepare_pair(a, b).warnings == ["reference: 3 frames: using the first", "distorted: x"]


def test_over_compositing():
    rgba = np.array([[[200, 100, 0, 0], [200, 100, 0, 255], [200, 100, 50, 51]]], np.uint8)
    img = loaded(rgba, 255, True)
    w = prepare_pair(img, img, alpha="over=white").reference
    assert w.shape == (3, 1, 3)
    np.testing.assert_allclose(w[:, 0, 0], [255, 255, 255])
    np.testing.assert_allclose(w[:, 0, 1], [200, 100, 0])
    np.testing.assert_allclose(w[:, 0, 2], [(v * 51 + 255 * 204) / 255 for v in (200, 100, 50)])
    k = prepare_pair(img, img, alpha="over=black").reference
    np.testing.assert_allclose(k[:, 0, 2], [40, 20, 10])
    c = prepare_pair(img, img, alpha="over=#ff8000").reference
    np.testing.assert_allclose(c[:, 0, 0], [255, 128, 0])
    # over scales the colour to a 16-bit range
    img16 = loaded(rgba.astype(np.uint16) * 257, 65535, True)
    c16 = prepare_pair(img16, img16, alpha="over=#ff8000").reference
    np.testing.assert_allclose(c16[:, 0, 0], [65535, 128 * 257, 0])


def test_over_grey_and_coloured_background():
    la = np.array([[[100, 0], [100, 255]]], np.uint8)
    img = loaded(la, 255, True)
    g = prepare_pair(img, img, alpha="over=white")
    assert g.channels == 1 and g.reference[0, 0].tolist() == [255, 100]
    c = prepare_pair(img, img, alpha="over=#ff0000")
    assert c.channels == 3 and c.reference[:, 0, 0].tolist() == [255, 0, 0]
    assert any("coloured background" in w for w in c.warnings)


def test_invalid_alpha_spec_in_prepare_pair():
    a = loaded(rand((2, 2, 3)), 255)
    with pytest.raises(ValueError):
        prepare_pair(a, a, alpha="nonsense")


def test_associated_alpha_matches_straight_in_every_mode():
    straight = np.array([[[200, 100, 50, 255], [80, 160, 240, 0], [200, 100, 40, 51]]], np.uint8)
    a = straight[..., 3:].astype(float)
    premul = straight.astype(float)
    premul[..., :3] = straight[..., :3] * a / 255
    premul[0, 1, :3] = 0
    s_img = loaded(straight.astype(np.float64), 255, True)
    p_img = loaded(premul, 255, True, alpha_associated=True)
    for spec in ("premultiplied", "drop", "over=white", "over=#102030"):
        ps = prepare_pair(s_img, s_img, alpha=spec).reference
        pp = prepare_pair(p_img, p_img, alpha=spec).reference
        if spec == "drop":  # colour under alpha 0 is gone for good in a premultiplied file
            ps, pp = ps[:, :, [0, 2]], pp[:, :, [0, 2]]
        np.testing.assert_allclose(pp, ps, rtol=1e-12, atol=1e-9)
