"""Frame sequences that are not video files: folders of numbered frames and
animated GIF/APNG/WebP read frame by frame, composited as displayed."""

from __future__ import annotations

import struct
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_image, write_png
from iqa_cli.io.frames import (
    AnimationSource,
    FolderSource,
    SequenceError,
    animation_frames,
    is_sequence,
    open_animation,
    open_folder,
    open_stream,
)

# ---------------------------------------------------------------------------- folders


def test_folder_frames_in_numeric_order_with_times(tmp_path):
    frames = {n: smooth_image(24, 32, seed=n) for n in (1, 2, 9, 10, 11)}
    for n, a in frames.items():
        write_png(tmp_path / f"f{n}.png", a)
    src = open_folder(tmp_path, rate=25)
    assert isinstance(src, FolderSource) and [p.split("/")[-1] for p in src.files] == \
        ["f1.png", "f2.png", "f9.png", "f10.png", "f11.png"]
    info = src.info
    assert (info.width, info.height, info.frame_count, info.data_range) == (32, 24, 5, 255.0)
    # numbers 3..8 are missing: a gap, reported, and the times keep their place
    assert [(g.after, g.missing) for g in info.gaps] == [(1, 6)]
    assert any("6 missing frames (6 after frame 1 at 0.040 s)" in n for n in info.notes)
    assert info.times == tuple(Fraction(n - 1, 25) for n in (1, 2, 9, 10, 11)) and info.timed
    got = list(src.frames())
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    for f, n in zip(got, (1, 2, 9, 10, 11)):
        np.testing.assert_array_equal(f.image.pixels, frames[n])
        assert f.layout == "image" and f.luma().shape == (24, 32)


def test_folder_without_rate_is_untimed_and_16_bit_frames_keep_their_range(tmp_path):
    for n in range(3):
        write_png(tmp_path / f"shot_{n:04d}.png", smooth_image(20, 20, seed=n, maxval=65535, dtype=np.uint16))
    src = open_folder(tmp_path)
    assert not src.info.timed and src.info.times == (0, 1, 2) and src.info.data_range == 65535.0
    assert src.info.bit_depth == 16 and any("no frame rate" in n for n in src.info.notes)
    assert [f.image.pixels.dtype for f in src.frames()] == [np.uint16] * 3


@pytest.mark.parametrize("names,reason", [
    (["a1.png", "b1.png"], "2 numbered sequences"),
    (["f1.png", "f01.png"], "frame number 1 is written twice"),
    (["f1.png", "cover.png"], "cover.png has no frame number"),
    ([], "no numbered image files"),
])
def test_folder_errors_name_the_problem(tmp_path, names, reason):
    for n in names:
        write_png(tmp_path / n, smooth_image(8, 8))
    (tmp_path / "notes.txt").write_text("not an image: ignored")
    with pytest.raises(SequenceError) as e:
        open_folder(tmp_path)
    assert reason in str(e.value) and str(e.value).startswith(str(tmp_path)) and "\n" not in str(e.value)


def test_a_frame_of_another_size_is_an_error_naming_it(tmp_path):
    write_png(tmp_path / "f0.png", smooth_image(8, 8))
    write_png(tmp_path / "f1.png", smooth_image(9, 8))
    with pytest.raises(SequenceError, match=r"f1\.png: frame 1 is 8x9, the first frame 8x8"):
        list(open_folder(tmp_path).frames())


# ---------------------------------------------------------------------------- animations

def _lzw_fixed(indices: list[int], min_code_size: int = 8) -> bytes:
    """GIF image data with fixed-width codes: a clear code before the code
    table would grow, so no compression and no variable widths."""
    clear, end, width = 1 << min_code_size, (1 << min_code_size) + 1, min_code_size + 1
    room = (1 << width) - (end + 1)  # literal codes that fit before the table grows
    codes, run = [clear], 0
    for ix in indices:
        if run == room - 1:
            codes.append(clear)
            run = 0
        codes.append(ix)
        run += 1
    codes.append(end)
    acc = nbits = 0
    raw = bytearray()
    for c in codes:
        acc |= c << nbits
        nbits += width
        while nbits >= 8:
            raw.append(acc & 255)
            acc >>= 8
            nbits -= 8
    if nbits:
        raw.append(acc & 255)
    out = bytearray([min_code_size])
    for i in range(0, len(raw), 255):
        out.append(len(raw[i:i + 255]))
        out += raw[i:i + 255]
    return bytes(out + b"\x00")


def write_gif(path, w, h, palette, frames, background=0):
    """A GIF89a written byte by byte. ``frames``: (x, y, fw, fh, colour index,
    disposal method, delay in 1/100 s): each frame a solid rectangle."""
    pal = b"".join(bytes(c) for c in palette) + bytes(3 * (256 - len(palette)))
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, background, 0) + pal)
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for x, y, fw, fh, colour, disposal, delay in frames:
        out += b"\x21\xf9\x04" + struct.pack("<BHB", disposal << 2, delay, 0) + b"\x00"
        out += b"\x2c" + struct.pack("<HHHHB", x, y, fw, fh, 0) + _lzw_fixed([colour] * (fw * fh))
    path.write_bytes(bytes(out + b"\x3b"))
    return path


RED, BLUE, GREEN, WHITE, BLACK = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255), (0, 0, 0)


def test_gif_frames_are_composited_after_each_disposal_method(tmp_path):
    """Partial frames over the canvas the previous frame left: disposal 1
    keeps it, 2 restores the frame's rectangle to the background colour (the
    GIF89a rule; browsers clear it to transparent instead), 3 restores what
    was there before the frame."""
    path = write_gif(tmp_path / "d.gif", 8, 8, [RED, BLUE, GREEN, WHITE, BLACK], [
        (0, 0, 8, 8, 0, 1, 4),  # red canvas, keep
        (0, 0, 4, 4, 1, 2, 4),  # blue 4x4, then restore to background (white)
        (6, 6, 2, 2, 2, 1, 8),  # green 2x2, keep; 80 ms
        (2, 2, 3, 3, 4, 3, 4),  # black 3x3, then restore to previous
        (0, 7, 1, 1, 3, 1, 4),  # one white pixel
    ], background=3)
    src = open_stream(path)
    assert isinstance(src, AnimationSource) and is_sequence(path) and animation_frames(path) == 5
    assert src.info.times == tuple(Fraction(t, 100) for t in (0, 4, 8, 16, 20))
    got = [f.image.pixels for f in src.frames()]
    expect = np.zeros((5, 8, 8, 3), np.uint8)
    expect[:] = RED
    expect[1, :4, :4] = BLUE
    expect[2:, :4, :4] = WHITE  # frame 1's rectangle restored to the background colour
    expect[2:, 6:, 6:] = GREEN
    expect[3, 2:5, 2:5] = BLACK  # frame 3, then restored to frame 2's content
    expect[4, 7, 0] = WHITE
    for k in range(5):
        np.testing.assert_array_equal(got[k], expect[k], err_msg=f"frame {k}")


@pytest.mark.parametrize("fmt,options", [("gif", {"optimize": True}), ("png", {}), ("webp", {"lossless": True})])
def test_pillow_written_animations_read_back_as_displayed(tmp_path, fmt, options):
    bg = np.zeros((40, 50, 3), np.uint8)
    bg[:, :25], bg[:, 25:] = (200, 30, 30), (30, 30, 200)
    frames = []
    for i in range(6):
        f = bg.copy()
        f[10:20, 5 + 5 * i:15 + 5 * i] = (250, 250, 0)
        frames.append(f)
    path = tmp_path / f"a.{fmt}"
    Image.fromarray(frames[0]).save(path, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]],
                                    duration=[40, 40, 80, 40, 40, 40], loop=0, **options)
    if fmt == "gif":  # the file holds partial frames: the reader composites them
        with Image.open(path) as im:
            im.seek(2)
            assert im.tile[0][1] != (0, 0, 50, 40)
    src = open_animation(path)
    assert src.info.frame_count == 6 and src.info.times[3] == Fraction(16, 100)
    for f, a in zip(src.frames(), frames):
        np.testing.assert_array_equal(f.image.pixels, a)
        assert f.time == src.info.times[f.index]


def test_transparent_animation_frames_keep_alpha(tmp_path):
    a = np.zeros((10, 10, 4), np.uint8)
    a[..., 0], a[..., 3] = 200, 255
    b = a.copy()
    b[:5, :, 3] = 0
    path = tmp_path / "t.png"
    Image.fromarray(a).save(path, save_all=True, append_images=[Image.fromarray(b)], duration=50)
    got = [f.image for f in open_animation(path).frames()]
    assert not got[0].has_alpha and got[0].pixels.shape == (10, 10, 3)  # opaque: RGB
    assert got[1].has_alpha and (got[1].pixels[:5, :, 3] == 0).all()


def test_a_still_image_is_one_frame_and_not_a_sequence(tmp_path):
    p = write_png(tmp_path / "still.png", smooth_image(8, 8))
    assert not is_sequence(p) and animation_frames(p) == 1
    assert open_stream(p).info.frame_count == 1


def test_unreadable_animation_is_one_line(tmp_path):
    p = tmp_path / "x.gif"
    p.write_bytes(b"GIF89a broken")
    with pytest.raises(SequenceError) as e:
        open_animation(p)
    assert str(e.value).startswith(str(p)) and "\n" not in str(e.value)
