"""Test videos made with PyAV, and the checks that they are what the video
tests assume (lossless codecs give back exactly the planes written).

The helpers are imported by the other ``test_video_*`` files:
``scene`` (moving content as native planes), ``noisy`` (a distortion),
``write_video`` (encode planes with any PyAV codec and pixel format).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

av = pytest.importorskip("av")

SUB = {"yuv420p": (2, 2), "yuv422p": (2, 1), "yuv444p": (1, 1)}


def fmt_of(pix_fmt: str) -> tuple[tuple[int, int], int]:
    """(chroma subsampling, bit depth) of a planar YUV pixel format."""
    base = pix_fmt.split("p")[0] + "p"
    bits = int(pix_fmt[len(base):].rstrip("lbe") or 8)
    return SUB[base], bits


def scene(w: int, h: int, n: int, *, pix_fmt: str = "yuv420p", seed: int = 0, speed: float = 3.0,
          start: int = 0) -> list[tuple[np.ndarray, ...]]:
    """``n`` frames of smooth texture moving ``speed`` px per frame, as
    native planes (Y, U, V) in the format's dtype and limited range.
    ``start`` begins at that frame of the motion (the same scene, later)."""
    (sx, sy), bits = fmt_of(pix_fmt)
    s = 2 ** (bits - 8)
    dt = np.uint8 if bits == 8 else np.uint16
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 6, 4)
    cw, ch = -(-w // sx), -(-h // sy)
    out = []
    for t in range(start, start + n):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        shift = speed * t
        Y = 126 + 60 * np.sin((x + shift) / 7.0 + phase[0]) * np.cos((y - 0.5 * shift) / 9.0 + phase[1]) \
            + 25 * np.sin((x + y + 2 * shift) / 3.1)
        cy, cx = np.mgrid[0:ch, 0:cw].astype(np.float64)
        U = 128 + 50 * np.sin((cx * sx + shift) / 11.0 + phase[2])
        V = 128 + 50 * np.cos((cy * sy - shift) / 13.0 + phase[3])
        out.append(tuple(np.clip(np.rint(p * s), 16 * s, 240 * s).astype(dt) for p in (Y, U, V)))
    return out


def noisy(frames, sigma: float, *, seed: int = 1, bits: int | None = None) -> list[tuple[np.ndarray, ...]]:
    """Frames with Gaussian noise of ``sigma`` (8-bit levels, scaled to the depth)."""
    rng = np.random.default_rng(seed)
    out = []
    for planes in frames:
        b = bits or (8 if planes[0].dtype == np.uint8 else 10)
        top = 2**b - 1
        out.append(tuple(np.clip(np.rint(p + rng.normal(0, sigma * 2 ** (b - 8), p.shape)), 0, top).astype(p.dtype)
                         for p in planes))
    return out


def write_video(path, frames, *, codec: str = "ffv1", pix_fmt: str = "yuv420p", rate=25, pts=None,
                options: dict | None = None, colorspace: int | None = None, color_range: int | None = None,
                time_base: Fraction | None = None):
    """Encode native planes (from :func:`scene`) as they are: each plane is
    copied into the frame's buffer (no conversion). ``pts`` in units of
    ``time_base`` (default 1/rate). Returns ``path``."""
    h, w = frames[0][0].shape
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if time_base is not None:
            s.codec_context.time_base = time_base
        if options:
            s.options = dict(options)
        if colorspace is not None:
            s.codec_context.colorspace = colorspace
        if color_range is not None:
            s.codec_context.color_range = color_range
        for i, planes in enumerate(frames):
            f = av.VideoFrame(w, h, pix_fmt)
            for p, a in zip(f.planes, planes):
                item = a.dtype.itemsize
                buf = np.zeros((p.height, p.line_size // item), dtype=a.dtype)
                buf[:, : p.width] = a
                p.update(buf.tobytes())
            f.pts = i if pts is None else pts[i]
            if time_base is not None:
                f.time_base = time_base
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


@pytest.mark.parametrize("codec,pix_fmt,options", [
    ("ffv1", "yuv420p", None),
    ("ffv1", "yuv444p10le", None),
    ("libx264", "yuv420p", {"qp": "0"}),
    ("libx264", "yuv444p", {"qp": "0"}),
])
def test_lossless_codecs_give_back_the_planes(tmp_path, codec, pix_fmt, options):
    frames = scene(66, 50, 4, pix_fmt=pix_fmt)
    path = write_video(tmp_path / ("v.mkv" if codec == "ffv1" else "v.mp4"), frames, codec=codec, pix_fmt=pix_fmt,
                       options=options)
    with av.open(str(path)) as c:
        got = [f for f in c.decode(video=0)]
    assert len(got) == 4
    for f, planes in zip(got, frames):
        assert f.format.name == pix_fmt
        for p, a in zip(f.planes, planes):
            row = p.line_size // a.dtype.itemsize
            arr = np.frombuffer(p, dtype=a.dtype, count=row * p.height).reshape(p.height, row)[:, : p.width]
            np.testing.assert_array_equal(arr, a)


def test_scene_moves_and_noise_distorts():
    a = scene(64, 48, 3)
    assert not np.array_equal(a[0][0], a[1][0])  # motion: neighbouring frames differ
    assert np.array_equal(scene(64, 48, 2, start=1)[0][0], a[1][0])  # start = the same scene later
    b = noisy(a, 3.0)
    d = b[0][0].astype(int) - a[0][0]
    assert 2.0 < d.std() < 4.0
