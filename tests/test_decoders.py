"""The fast PNG/JPEG decoders (io/fast.py): the same samples as the Pillow
path for every PNG colour type, bit depth, interlacing and transparency and
for JPEG subsamplings; errors stay errors; Pillow takes over when a fast
decoder is missing or refuses a file; decoding runs in parallel threads."""

from __future__ import annotations

import io
import struct
import threading

import numpy as np
import pytest
from PIL import Image

from iqa_cli.errors import ImageLoadError
from iqa_cli.io import fast, load_image
from iqa_cli.io import pillow as iio_pillow
from test_io import _png_chunk, write_png

pytest.importorskip("imagecodecs")
pytest.importorskip("simplejpeg")

RNG = np.random.default_rng(15)


def rand(shape, dtype=np.uint8, hi=None):
    hi = np.iinfo(dtype).max if hi is None else hi
    return RNG.integers(0, hi + 1, shape, dtype=np.int64).astype(dtype)


def both(monkeypatch, path, **kw):
    """(fast, Pillow) decodes of one file, and which decoder the fast one used."""
    used = []
    real = fast.decode

    def spy(kind, data, mode):
        used.append(kind)
        return real(kind, data, mode)

    monkeypatch.setattr(iio_pillow, "fast_decode", spy)
    quick = load_image(path, **kw)
    monkeypatch.setenv("IQA_FAST_DECODE", "0")
    slow = load_image(path, **kw)
    monkeypatch.delenv("IQA_FAST_DECODE")
    return quick, slow, used


def same(a, b):
    assert a.pixels.dtype == b.pixels.dtype and a.pixels.shape == b.pixels.shape
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert (a.data_range, a.has_alpha, a.format, a.warnings) == (b.data_range, b.has_alpha, b.format, b.warnings)


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("color_type,bits", [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (4, 8), (6, 8),
                                             (3, 1), (3, 2), (3, 4), (3, 8)])
def test_png_fast_equals_pillow(tmp_path, monkeypatch, color_type, bits, interlace):
    c = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    a = rand((13, 21, c), np.uint16 if bits == 16 else np.uint8, hi=2**bits - 1)
    plte = rand((2**bits, 3)) if color_type == 3 else None
    p = write_png(tmp_path / "x.png", a, bit_depth=bits, color_type=color_type, interlace=interlace, plte=plte)
    quick, slow, used = both(monkeypatch, p)
    assert used == ["png"]
    same(quick, slow)


@pytest.mark.parametrize("case", ["grey8", "grey16", "grey2", "rgb8", "rgb16", "palette"])
def test_png_trns_fast_equals_pillow_or_source(tmp_path, monkeypatch, case):
    bits = {"grey16": 16, "rgb16": 16, "grey2": 2}.get(case, 8)
    dtype = np.uint16 if bits == 16 else np.uint8
    c = 3 if case.startswith("rgb") else 1
    a = rand((9, 11, c), dtype, hi=2**bits - 1)
    key = a[0, 0]
    plte = rand((256, 3)) if case == "palette" else None
    if case == "palette":
        trns = bytes(rand((40,)))
    else:
        trns = struct.pack(">" + "H" * c, *(int(v) for v in key))
    p = write_png(tmp_path / "t.png", a, bit_depth=bits, color_type=3 if case == "palette" else (2 if c == 3 else 0),
                  trns=trns, plte=plte)
    if case == "rgb16":  # Pillow alone cannot give these samples: check them directly
        im = load_image(p)
        assert im.pixels.shape == (9, 11, 4) and im.has_alpha
        np.testing.assert_array_equal(im.pixels[..., :3], a)
        np.testing.assert_array_equal(im.pixels[..., 3], np.where((a == key).all(-1), 0, 65535))
        return
    quick, slow, used = both(monkeypatch, p)
    assert used == ["png"] and quick.has_alpha
    same(quick, slow)


@pytest.mark.parametrize("c", [2, 3, 4])
def test_png_16bit_colour_is_lossless(tmp_path, c):
    a = rand((10, 12, c), np.uint16)
    for interlace in (False, True):
        im = load_image(write_png(tmp_path / f"w{interlace}.png", a, bit_depth=16, interlace=interlace))
        assert im.pixels.dtype == np.uint16 and im.data_range == 65535.0
        np.testing.assert_array_equal(im.pixels, a)


@pytest.mark.parametrize("c", [2, 3, 4])
def test_png_16bit_colour_without_imagecodecs_is_an_error_not_8_bits(tmp_path, monkeypatch, c):
    p = write_png(tmp_path / "w.png", rand((6, 7, c), np.uint16), bit_depth=16)
    monkeypatch.setitem(fast._mods, "imagecodecs", None)
    with pytest.raises(ImageLoadError, match="16-bit colour PNG: .*imagecodecs") as e:
        load_image(p)
    assert str(p) in str(e.value)


def _jpeg(path, a, **kw):
    Image.fromarray(a).save(path, "JPEG", **kw)
    return path


@pytest.mark.parametrize("kw", [{}, {"subsampling": 0}, {"subsampling": 1}, {"subsampling": 2, "quality": 60},
                                {"progressive": True}, {"optimize": True}, "grey"])
def test_jpeg_fast_equals_pillow(tmp_path, monkeypatch, kw):
    yy, xx = np.mgrid[0:37, 0:53]
    a = np.stack([(xx * 5) % 256, (yy * 7) % 256, (xx + yy) % 256], -1).astype(np.uint8)
    a = np.clip(a.astype(int) + rand(a.shape, hi=30), 0, 255).astype(np.uint8)
    p = _jpeg(tmp_path / "j.jpg", a[..., 0] if kw == "grey" else a, **({} if kw == "grey" else kw))
    quick, slow, used = both(monkeypatch, p)
    assert used == ["jpeg"]
    same(quick, slow)


def test_truncated_jpeg_is_an_error_not_grey(tmp_path):
    p = _jpeg(tmp_path / "j.jpg", rand((64, 64, 3)))
    data = p.read_bytes()
    for cut in (len(data) // 2, len(data) - 2):
        q = tmp_path / f"cut{cut}.jpg"
        q.write_bytes(data[:cut])
        with pytest.raises(ImageLoadError, match="truncated") as e:
            load_image(q)
        assert str(q) in str(e.value)


def test_truncated_png_is_an_error(tmp_path):
    p = write_png(tmp_path / "x.png", rand((64, 64, 3)))
    data = p.read_bytes()
    q = tmp_path / "cut.png"
    q.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(q)


def test_missing_fast_decoders_fall_back_to_pillow(tmp_path, monkeypatch):
    a = rand((9, 8, 3))
    p = write_png(tmp_path / "x.png", a)
    j = _jpeg(tmp_path / "x.jpg", a)
    expect_j = np.asarray(Image.open(j))
    monkeypatch.setitem(fast._mods, "imagecodecs", None)
    monkeypatch.setitem(fast._mods, "simplejpeg", None)
    monkeypatch.setattr(iio_pillow, "fast_decode", lambda *a: pytest.fail("fast decoder called"))
    np.testing.assert_array_equal(load_image(p).pixels, a)
    np.testing.assert_array_equal(load_image(j).pixels, expect_j)


def test_a_file_the_fast_decoder_refuses_is_decoded_by_pillow(tmp_path, monkeypatch):
    a = rand((9, 8, 3))
    p = write_png(tmp_path / "x.png", a)
    calls = []

    def refuse(kind, data, mode):
        calls.append(kind)
        raise RuntimeError("exotic file")

    monkeypatch.setattr(iio_pillow, "fast_decode", refuse)
    im = load_image(p)
    assert calls == ["png"]
    np.testing.assert_array_equal(im.pixels, a)


def test_exif_after_the_image_data_is_still_read(tmp_path):
    # an eXIf chunk after IDAT: Pillow sees it only while decoding, so it decodes
    buf = io.BytesIO()
    Image.new("RGB", (4, 3)).save(buf, "PNG")
    exif = Image.Exif()
    exif[0x0112] = 6
    png = buf.getvalue()
    end = png.rindex(b"IEND") - 4
    p = tmp_path / "late.png"
    p.write_bytes(png[:end] + _png_chunk(b"eXIf", exif.tobytes()) + png[end:])
    assert fast.png_exif_after_idat(p.read_bytes())
    im = load_image(p)
    assert im.orientation == 6 and any("EXIF orientation 6" in w for w in im.warnings)
    assert load_image(p, exif_transpose=True).pixels.shape[:2] == (4, 3)


def test_icc_and_orientation_with_the_fast_decoder(tmp_path, monkeypatch):
    exif = Image.Exif()
    exif[0x0112] = 3
    a = rand((5, 6, 3))
    icc = b"\x00" * 128 + b"fake profile"
    Image.fromarray(a).save(tmp_path / "o.jpg", exif=exif.tobytes(), icc_profile=icc, quality=95)
    Image.fromarray(a).save(tmp_path / "o.png", exif=exif.tobytes(), icc_profile=icc)
    for name in ("o.jpg", "o.png"):
        quick, slow, used = both(monkeypatch, tmp_path / name)
        assert used and quick.orientation == 3 and quick.icc_profile == icc
        same(quick, slow)
        turned = load_image(tmp_path / name, exif_transpose=True)
        np.testing.assert_array_equal(turned.pixels, quick.pixels[::-1, ::-1])


def test_bomb_limit_checked_before_the_fast_decoder(tmp_path, monkeypatch):
    p = write_png(tmp_path / "b.png", rand((4, 4, 3)), size=(100000, 100000))
    monkeypatch.setattr(iio_pillow, "fast_decode", lambda *a: pytest.fail("decoded a bomb"))
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(p)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_fast_decoders_run_in_parallel(tmp_path, monkeypatch, ext):
    # both threads must be inside the fast decoder at once (a serialising lock would time out)
    barrier = threading.Barrier(2, timeout=10)
    real = fast.decode

    def meeting(kind, data, mode):
        barrier.wait()
        return real(kind, data, mode)

    monkeypatch.setattr(iio_pillow, "fast_decode", meeting)
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.{ext}")
        Image.fromarray(rand((24, 32, 3))).save(paths[-1])
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
    assert out == [32, 32]
