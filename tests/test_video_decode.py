"""Reading video: probe (counts, times, VFR, gaps, colour tags and their
sources), native planes (8/10-bit, subsampled, odd sizes), the RGB view
against FFmpeg's own conversion, and one-line errors."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

av = pytest.importorskip("av")

from test_video_make import scene, write_video  # noqa: E402

from iqa_cli.errors import IqaError  # noqa: E402
from iqa_cli.io.video import VideoError, describe, is_video, open_video, probe  # noqa: E402
from iqa_cli.io.yuv import YuvFormat, yuv_to_rgb  # noqa: E402


@pytest.mark.parametrize("pix_fmt,size,codec,ext", [
    ("yuv420p", (64, 48), "ffv1", "mkv"),
    ("yuv444p", (64, 48), "ffv1", "mkv"),
    ("yuv420p10le", (65, 47), "ffv1", "mkv"),  # odd size: chroma 33x24
    ("yuv444p10le", (64, 48), "ffv1", "mkv"),
    ("yuv422p", (66, 50), "libx264", "mp4"),
])
def test_native_planes_round_trip(tmp_path, pix_fmt, size, codec, ext):
    frames = scene(*size, 5, pix_fmt=pix_fmt)
    path = write_video(tmp_path / f"v.{ext}", frames, codec=codec, pix_fmt=pix_fmt,
                       options={"qp": "0"} if codec == "libx264" else None)
    info = probe(path)
    bits = 10 if "10" in pix_fmt else 8
    assert (info.width, info.height, info.frame_count) == (*size, 5)
    assert info.pix_fmt == pix_fmt and info.bit_depth == bits and info.data_range == 2**bits - 1
    assert info.layout == "yuv" and info.frame_rate == 25 and not info.vfr and info.gaps == ()
    assert info.times == tuple(Fraction(i, 25) for i in range(5))
    got = list(open_video(path).frames())
    assert [f.index for f in got] == list(range(5))
    assert [f.time for f in got] == list(info.times)
    for f, planes in zip(got, frames):
        assert len(f.planes) == 3
        for a, b in zip(f.planes, planes):
            assert a.dtype == (np.uint8 if bits == 8 else np.uint16) and a.flags.c_contiguous
            np.testing.assert_array_equal(a, b)
    if size == (65, 47):
        assert got[0].planes[1].shape == (24, 33)
        assert int(max(p.max() for p in got[0].planes)) > 255  # 10-bit values kept, not squeezed to 8 bits


def test_frame_count_and_times_come_from_the_packets(tmp_path):
    # MKV has no frame count field: the probe counts packets; a start offset is removed
    frames = scene(32, 32, 7)
    path = write_video(tmp_path / "v.mkv", frames, pts=[10 + i for i in range(7)])
    info = probe(path)
    assert info.frame_count == 7 and info.frame_count_source == "packets"
    assert info.start_time == Fraction(10, 25) and info.times[0] == 0 and info.times[-1] == Fraction(6, 25)
    assert info.duration == Fraction(7, 25)


def test_gaps_and_variable_frame_rate_from_timestamps(tmp_path):
    frames = scene(32, 32, 6)
    gap = probe(write_video(tmp_path / "gap.mkv", frames, pts=[0, 1, 2, 4, 5, 6]))
    assert not gap.vfr and [(g.after, g.missing) for g in gap.gaps] == [(2, 1)]
    assert any("1 missing frame (1 after frame 2 at 0.080 s)" in n for n in gap.notes)
    # steps of 40, 33, 50 ms in a 1 ms time base: variable
    vfr = probe(write_video(tmp_path / "vfr.mkv", frames, pts=[0, 40, 73, 123, 163, 203],
                            time_base=Fraction(1, 1000)))
    assert vfr.vfr and any("variable frame rate" in n for n in vfr.notes)
    # 29.97 fps in MKV's 1 ms time base: steps of 33 and 34 ms are constant rate
    ntsc = probe(write_video(tmp_path / "ntsc.mkv", scene(32, 32, 30), rate=Fraction(30000, 1001)))
    assert not ntsc.vfr and ntsc.gaps == () and ntsc.interval == Fraction(1001, 30000)
    steps = {b - a for a, b in zip(ntsc.times, ntsc.times[1:])}
    assert steps == {Fraction(33, 1000), Fraction(34, 1000)}


def test_colour_matrix_and_range_say_where_they_came_from(tmp_path):
    small = probe(write_video(tmp_path / "s.mkv", scene(64, 48, 2)))
    assert (small.yuv.matrix, small.yuv.range) == ("bt601", "limited")
    assert "default for 64x48" in small.yuv.matrix_source and "default" in small.yuv.range_source
    hd = probe(write_video(tmp_path / "hd.mkv", scene(1280, 720, 1)))
    assert hd.yuv.matrix == "bt709" and "default for 1280x720" in hd.yuv.matrix_source
    tagged = probe(write_video(tmp_path / "t.mkv", scene(64, 48, 2), colorspace=1, color_range=2))
    assert (tagged.yuv.matrix, tagged.yuv.matrix_source) == ("bt709", "stream tag")
    assert (tagged.yuv.range, tagged.yuv.range_source) == ("full", "stream tag")
    assert "BT.709 (stream tag), full range (stream tag)" in describe(tagged)
    bt2020 = probe(write_video(tmp_path / "w.mkv", scene(64, 48, 2), colorspace=9, color_range=1))
    assert (bt2020.yuv.matrix, bt2020.yuv.range) == ("bt2020", "limited")


def _swscale_rgb(frame, fmt: YuvFormat, out_format: str, **kw):
    from av.video.reformatter import ColorRange, Colorspace

    cs = {"bt601": Colorspace.ITU601, "bt709": Colorspace.ITU709, "bt2020": Colorspace.BT2020}[fmt.matrix]
    cr = ColorRange.MPEG if fmt.range == "limited" else ColorRange.JPEG
    out = frame.reformat(format=out_format, src_colorspace=cs, src_color_range=cr, dst_color_range=ColorRange.JPEG,
                         **kw)
    planes = []
    for p in out.planes:
        dt = np.uint8 if out_format == "gbrp" else np.dtype("<u2")
        row = p.line_size // np.dtype(dt).itemsize
        planes.append(np.frombuffer(p, dt, count=row * p.height).reshape(p.height, row)[:, : p.width])
    g, b, r = planes
    return np.stack([r, g, b]).astype(np.int64)


@pytest.mark.parametrize("pix_fmt", ["yuv444p", "yuv420p", "yuv420p10le"])
@pytest.mark.parametrize("matrix,rng", [("bt601", "limited"), ("bt709", "full"), ("bt2020", "limited")])
def test_rgb_view_matches_ffmpeg_point_sampled_conversion(tmp_path, pix_fmt, matrix, rng):
    """The documented formula with sample-replicated chroma equals swscale's
    accurate, point-sampled conversion to within one level (its fixed-point
    rounding). At 10 bits, limited range, swscale puts white (940) at 1020
    (8-bit 255 shifted left by 2), not 1023: ours follows H.273 (940 -> 1023),
    so swscale's values are compared after scaling by 1023/1020."""
    from av.video.reformatter import Interpolation

    frames = scene(64, 48, 1, pix_fmt=pix_fmt)
    bits = 10 if "10" in pix_fmt else 8
    sub = (1, 1) if "444" in pix_fmt else (2, 2)
    fmt = YuvFormat(matrix, "test", rng, "test", bits, sub)
    ours = yuv_to_rgb(*frames[0], fmt)
    assert ours.dtype == frames[0][0].dtype and ours.shape == (3, 48, 64)
    f = av.VideoFrame(64, 48, pix_fmt)
    for p, a in zip(f.planes, frames[0]):
        buf = np.zeros((p.height, p.line_size // a.dtype.itemsize), a.dtype)
        buf[:, : p.width] = a
        p.update(buf.tobytes())
    out = "gbrp" if bits == 8 else "gbrp10le"
    point = Interpolation.POINT | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT | \
        Interpolation.FULL_CHR_H_INP
    theirs = _swscale_rgb(f, fmt, out, interpolation=point)
    worst, mean = 1.0, 0.1
    if bits == 10 and rng == "limited":
        assert int(_swscale_rgb(_flat(940, 512, 512), fmt, out, interpolation=point).max()) == 1020
        theirs = np.minimum(theirs * 1023.0 / 1020.0, 1023.0)  # it clips at 1023, beyond its white
        worst, mean = 1.5, 0.5  # its rounding happened on the 1020 scale
    d = np.abs(theirs - ours.astype(np.int64))
    assert d.max() <= worst and d.mean() < mean


def _flat(y, u, v, pix_fmt="yuv444p10le"):
    f = av.VideoFrame(16, 16, pix_fmt)
    for p, val in zip(f.planes, (y, u, v)):
        p.update(np.full((p.height, p.line_size // 2), val, np.uint16).tobytes())
    return f


def test_swscale_default_conversion_interpolates_chroma(tmp_path):
    """PyAV's plain ``to_ndarray(format="rgb24")`` (swscale's default flags)
    is not the point-sampled conversion: on 4:2:0 content with chroma detail
    it differs from ours by a few levels (measured on this scene: at most 3,
    1.13 darker on average); on 4:4:4 it agrees to one level."""
    for pix_fmt, worst, bias in (("yuv444p", 1, 0.05), ("yuv420p", 3, 1.5)):
        frames = scene(64, 48, 1, pix_fmt=pix_fmt)
        sub = (1, 1) if pix_fmt == "yuv444p" else (2, 2)
        fmt = YuvFormat("bt601", "t", "limited", "t", 8, sub)
        f = av.VideoFrame(64, 48, pix_fmt)
        for p, a in zip(f.planes, frames[0]):
            buf = np.zeros((p.height, p.line_size), np.uint8)
            buf[:, : p.width] = a
            p.update(buf.tobytes())
        from av.video.reformatter import ColorRange, Colorspace

        theirs = f.to_ndarray(format="rgb24", src_colorspace=Colorspace.ITU601, src_color_range=ColorRange.MPEG,
                              dst_color_range=ColorRange.JPEG)
        d = np.abs(np.moveaxis(theirs, 2, 0).astype(int) - yuv_to_rgb(*frames[0], fmt))
        assert d.max() <= worst and d.mean() < bias


def test_rgb_view_formula_on_known_values():
    # limited BT.709 8-bit: Y=235, Cb=Cr=128 is white; Y=16 black; pure red from the standard's table
    fmt = YuvFormat("bt709", "t", "limited", "t", 8, (1, 1))
    y = np.array([[235, 16, 63]], np.uint8)
    u = np.array([[128, 128, 102]], np.uint8)
    v = np.array([[128, 128, 240]], np.uint8)
    rgb = yuv_to_rgb(y, u, v, fmt)
    assert rgb[:, 0, 0].tolist() == [255, 255, 255] and rgb[:, 0, 1].tolist() == [0, 0, 0]
    assert rgb[0, 0, 2] == 255 and rgb[1, 0, 2] <= 1 and rgb[2, 0, 2] <= 1
    # 10-bit limited: 940 is white, on 0..1023
    fmt10 = YuvFormat("bt601", "t", "limited", "t", 10, (2, 2))
    white = yuv_to_rgb(np.full((3, 3), 940, np.uint16), np.full((2, 2), 512, np.uint16),
                       np.full((2, 2), 512, np.uint16), fmt10)
    assert white.dtype == np.uint16 and (white == 1023).all()
    with pytest.raises(ValueError, match="YCgCo|ycgco"):
        yuv_to_rgb(y, u, v, YuvFormat(None, "stream tag", "limited", "t", 8, (1, 1), matrix_name="ycgco"))


def test_frame_rgb_uses_the_stream_tags(tmp_path):
    frames = scene(64, 48, 1)
    path = write_video(tmp_path / "t.mkv", frames, colorspace=1, color_range=1)
    f = next(open_video(path).frames())
    expected = yuv_to_rgb(*frames[0], YuvFormat("bt709", "", "limited", "", 8, (2, 2)))
    np.testing.assert_array_equal(f.rgb(), expected)
    assert not np.array_equal(expected, yuv_to_rgb(*frames[0], YuvFormat("bt601", "", "limited", "", 8, (2, 2))))


def test_rgb_video_gives_rgb_planes(tmp_path):
    rng = np.random.default_rng(3)
    src = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    path = tmp_path / "rgb.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264rgb", rate=25)
        s.width, s.height, s.pix_fmt, s.options = 64, 48, "bgr24", {"qp": "0"}
        for i, a in enumerate(src):
            fr = av.VideoFrame.from_ndarray(a, format="rgb24")
            fr.pts = i
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    info = probe(path)
    assert info.layout == "rgb" and info.yuv is None
    for f, a in zip(open_video(path).frames(), src):
        np.testing.assert_array_equal(f.rgb(), np.moveaxis(a, 2, 0))


def test_is_video():
    assert is_video("a.MP4") and is_video("x/y.mkv") and is_video("c.webm") and is_video("d.y4m")
    assert not is_video("a.png") and not is_video("a.gif") and not is_video("folder")


def test_unreadable_videos_are_one_line_errors_naming_the_file(tmp_path):
    (tmp_path / "garbage.mp4").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "empty.mkv").write_bytes(b"")
    cases = {
        "garbage.mp4": "not a readable video",
        "empty.mkv": "not a readable video",
        "missing.mp4": "no such file",
    }
    for name, reason in cases.items():
        with pytest.raises(VideoError) as e:
            probe(tmp_path / name)
        assert isinstance(e.value, IqaError) and e.value.exit_code == 2
        assert str(e.value).startswith(str(tmp_path / name)) and reason in str(e.value)
        assert "\n" not in str(e.value)


def test_a_truncated_video_reads_what_it_holds(tmp_path):
    path = write_video(tmp_path / "v.mkv", scene(96, 64, 20))
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    info = probe(cut)
    assert 0 < info.frame_count < 20
    assert len(list(open_video(cut).frames())) == info.frame_count


def test_a_changed_file_is_an_error_not_a_silent_shift(tmp_path):
    path = write_video(tmp_path / "v.mkv", scene(32, 32, 6))
    source = open_video(path)
    write_video(path, scene(32, 32, 4))  # fewer frames than the probe saw
    with pytest.raises(VideoError, match="decoded 4 frames, the container lists 6"):
        list(source.frames())


@pytest.mark.parametrize("stored,planar,container,codec", [
    ("nv12", "yuv420p", "nut", "rawvideo"),  # semi-planar: repacked, samples unchanged
    ("yuyv422", "yuv422p", "nut", "rawvideo"),  # packed
    ("gray", "gray", "nut", "rawvideo"),
    ("gray10le", "gray10le", "mkv", "ffv1"),
])
def test_packed_semi_planar_and_grey_formats(tmp_path, stored, planar, container, codec):
    grey = planar.startswith("gray")
    frames = scene(64, 48, 3, pix_fmt={"gray": "yuv444p", "gray10le": "yuv444p10le"}.get(planar, planar))
    if grey:
        frames = [(f[0],) for f in frames]
    path = tmp_path / f"v.{container}"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, stored
        for i, planes in enumerate(frames):
            f = av.VideoFrame(64, 48, planar)
            for p, a in zip(f.planes, planes):
                buf = np.zeros((p.height, p.line_size // a.dtype.itemsize), a.dtype)
                buf[:, : p.width] = a
                p.update(buf.tobytes())
            f = f.reformat(format=stored) if stored != planar else f
            f.pts = i
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    info = probe(path)
    assert info.pix_fmt == stored and info.planar_format == planar
    assert info.layout == ("gray" if grey else "yuv") and (info.yuv is None) == grey
    if stored != planar:
        assert f"pixel format {stored} repacked to planar {planar} (samples unchanged)" in info.notes
    for f, planes in zip(open_video(path).frames(), frames):
        assert len(f.planes) == len(planes)
        for a, b in zip(f.planes, planes):
            np.testing.assert_array_equal(a, b)
