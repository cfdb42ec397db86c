"""Pairing frames of two streams: by time after each start is reset, refusal
of different rates/counts unless a frames mode says what to do, dropped
frames, offsets, the one-frame-shift check and the offset search."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

av = pytest.importorskip("av")

from test_video_make import noisy, scene, write_video  # noqa: E402

from iqa_cli.errors import SizeMismatchError  # noqa: E402
from iqa_cli.io.frame_align import (  # noqa: E402
    AlignmentError,
    MisalignedError,
    check_sync,
    find_offset,
    plan_pairs,
)
from iqa_cli.io.frames import open_folder, open_stream  # noqa: E402
from iqa_cli.io.stream import StreamInfo, timing  # noqa: E402
from iqa_cli.spelling import spelled_by  # noqa: E402


def info(times, *, rate=25, timed=True, size=(64, 48), tick=Fraction(0)) -> StreamInfo:
    """A stream description with the given frame times (in frames of ``rate``)."""
    ts = tuple(Fraction(t) / rate for t in times) if timed else tuple(Fraction(t) for t in times)
    interval, vfr, gaps = timing(list(ts), tick)
    return StreamInfo(path="x", kind="video", width=size[0], height=size[1], times=ts, timed=timed,
                      interval=interval, vfr=vfr, gaps=gaps, data_range=255.0, bit_depth=8, layout="yuv", tick=tick)


def pairs(plan):
    return [(p.ref, p.dist) for p in plan.pairs]


def cli(name: str) -> str:
    return "--" + name.replace("_", "-")


# ---------------------------------------------------------------------------- plan_pairs

def test_equal_streams_pair_frame_by_frame_after_resetting_each_start():
    ref = info(range(5))
    dist = info(range(5))
    plan = plan_pairs(ref, dist)
    assert pairs(plan) == [(i, i) for i in range(5)] and plan.method == "time" and plan.notes == ()
    assert [p.time for p in plan.pairs] == [Fraction(i, 25) for i in range(5)]


def test_different_counts_are_refused_unless_a_mode_says_what_to_do():
    ref, dist = info(range(30)), info(range(28))
    with spelled_by(cli), pytest.raises(AlignmentError) as e:
        plan_pairs(ref, dist)
    msg = str(e.value)
    assert "reference 30 frames, distorted 28" in msg and "reference frames 28-29 (1.120-1.160 s)" in msg
    assert "--frames overlap" in msg and "--frames ref" in msg and "--offset" in msg and "--find-offset" in msg
    overlap = plan_pairs(ref, dist, frames="overlap")
    assert pairs(overlap) == [(i, i) for i in range(28)] and overlap.ref_unpaired == (28, 29)
    assert any("2 reference frames without a distorted frame left out: 28-29" in n for n in overlap.notes)
    with pytest.raises(AlignmentError, match="no frame for reference frames 28-29"):
        plan_pairs(ref, dist, frames="ref")
    # ref: a longer distorted stream is fine, its extra frames are left out (never the other way round)
    longer = plan_pairs(ref, info(range(32)), frames="ref")
    assert len(longer) == 30 and longer.dist_unpaired == (30, 31)


def test_a_dropped_frame_is_found_by_its_time_not_by_counting():
    ref = info(range(10))
    dist = info([0, 1, 2, 3, 5, 6, 7, 8, 9])  # frame 4 dropped, timestamps kept
    assert [(g.after, g.missing) for g in dist.gaps] == [(3, 1)]
    with pytest.raises(AlignmentError, match=r"no frame for reference frame 4 \(0\.160 s\)"):
        plan_pairs(ref, dist)
    plan = plan_pairs(ref, dist, frames="overlap")
    assert pairs(plan) == [(0, 0), (1, 1), (2, 2), (3, 3), (5, 4), (6, 5), (7, 6), (8, 7), (9, 8)]
    assert plan.repeated == 0  # never a repeated frame in place of the missing one
    with pytest.raises(AlignmentError, match="never repeats a distorted one"):
        plan_pairs(ref, dist, frames="ref")


def test_24_vs_25_fps_is_refused_then_paired_by_what_is_on_screen():
    ref, dist = info(range(25), rate=25), info(range(24), rate=24)
    with spelled_by(cli), pytest.raises(AlignmentError) as e:
        plan_pairs(ref, dist)
    assert "frame rates differ: reference 25 fps, distorted 24 fps" in str(e.value)
    assert "--frames overlap" in str(e.value)
    plan = plan_pairs(ref, dist, frames="overlap")
    assert plan.method == "hold" and len(plan) == 25
    # reference frame i at i/25 s shows the distorted frame j with j/24 <= i/25 < (j+1)/24
    assert pairs(plan) == [(i, (i * 24) // 25) for i in range(25)]
    assert plan.repeated == 1 and any("1 distorted frame used twice or more, 0 never shown" in n for n in plan.notes)
    # 25 reference frames over a 24 fps stream 2 frames short: ref refuses, overlap leaves them out
    short = info(range(22), rate=24)
    with pytest.raises(AlignmentError, match="fall outside the distorted stream"):
        plan_pairs(ref, short, frames="ref")
    assert len(plan_pairs(ref, short, frames="overlap")) == 23  # 22/24 s = 0.9167 s covers ref frames 0..22


def test_offset_shifts_the_distorted_stream_by_whole_frames():
    ref, dist = info(range(10)), info(range(10))
    late = plan_pairs(ref, dist, offset=1)  # distorted frame i + 1 is reference frame i
    assert pairs(late) == [(i, i + 1) for i in range(9)]
    assert late.ref_unpaired == (9,) and late.dist_unpaired == (0,)
    early = plan_pairs(ref, dist, offset=-2)
    assert pairs(early) == [(i + 2, i) for i in range(8)]
    # the offset explains |N| frames at each end, no more
    with pytest.raises(AlignmentError, match="after offset 1"):
        plan_pairs(ref, info(range(8)), offset=1)


def test_untimed_folder_takes_the_other_streams_rate():
    ref = info(range(5), rate=30)
    folder = info(range(5), timed=False)
    plan = plan_pairs(ref, folder)
    assert pairs(plan) == [(i, i) for i in range(5)]
    assert any("distorted has no frame rate: timed at the other stream's 30 fps" in n for n in plan.notes)
    both = plan_pairs(info([0, 1, 3], timed=False), info([0, 1, 2, 3], timed=False), frames="overlap")
    assert pairs(both) == [(0, 0), (1, 1), (2, 3)] and not both.timed


def test_sizes_and_bad_settings():
    with pytest.raises(SizeMismatchError, match="size mismatch: 64x48 vs 66x48"):
        plan_pairs(info(range(3)), info(range(3), size=(66, 48)))
    with pytest.raises(ValueError, match="frames must be one of exact, overlap, ref"):
        plan_pairs(info(range(3)), info(range(3)), frames="longest")
    with pytest.raises(ValueError, match="whole number"):
        plan_pairs(info(range(3)), info(range(3)), offset=0.5)
    with pytest.raises(AlignmentError, match="no frame of the reference"):
        plan_pairs(info(range(3)), info(range(3)), offset=5, frames="overlap")


# ---------------------------------------------------------------------------- on real videos

@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("align")
    ref = scene(96, 64, 30)
    lossy = dict(codec="libx264", options={"crf": "28"})
    late = scene(96, 64, 1, start=-1) + ref[:29]  # one frame late: an extra frame in front
    dropped = ref[:12] + ref[13:]
    return {
        "ref": write_video(d / "ref.mkv", ref),
        "same": write_video(d / "same.mp4", ref, **lossy),
        "late": write_video(d / "late.mp4", late, **lossy),
        "early2": write_video(d / "early2.mp4", ref[2:], **lossy),
        "dropped_pts": write_video(d / "dropped_pts.mkv", noisy(dropped, 2.0),
                                   pts=[i for i in range(30) if i != 12]),
        "dropped": write_video(d / "dropped.mkv", noisy(dropped, 2.0)),
        "fps24": write_video(d / "fps24.mkv", scene(96, 64, 24), rate=24),
        "static": write_video(d / "static.mkv", [ref[0]] * 12),
        "static_noisy": write_video(d / "static_noisy.mp4", [ref[0]] * 12, **lossy),
    }


def test_a_one_frame_offset_is_refused_naming_offset_and_find_offset(videos):
    ref, late = open_stream(videos["ref"]), open_stream(videos["late"])
    plan = plan_pairs(ref.info, late.info)  # same count and rate: nothing to see in the timestamps
    assert len(plan) == 30
    with spelled_by(cli), pytest.raises(MisalignedError) as e:
        check_sync(ref, late, plan)
    msg = str(e.value)
    assert "distorted frame i+1 matches reference frame i better" in msg
    assert "--offset 1" in msg and "--find-offset" in msg and "\n" not in msg
    found = find_offset(ref, late, search=3, seconds=1.0)
    assert found.best == 1 and found.margin_db > 5
    assert set(found.table) == {-3, -2, -1, 0, 1, 2, 3} and found.frames == 22
    fixed = plan_pairs(ref.info, late.info, offset=found.best)
    assert check_sync(ref, late, fixed).verdict == "aligned"


def test_aligned_lossy_video_passes_the_check(videos):
    ref, same = open_stream(videos["ref"]), open_stream(videos["same"])
    check = check_sync(ref, same, plan_pairs(ref.info, same.info))
    assert check.verdict == "aligned" and check.pairs == 10
    assert check.mean_db[0] > check.mean_db[1] + 5 and check.mean_db[0] > check.mean_db[-1] + 5
    assert find_offset(ref, same, search=2, seconds=0.5).best == 0


def test_two_frames_early_is_found_by_the_search(videos):
    ref, early = open_stream(videos["ref"]), open_stream(videos["early2"])
    with pytest.raises(AlignmentError):  # 30 vs 28 frames
        plan_pairs(ref.info, early.info)
    found = find_offset(ref, early, search=4, seconds=1.0)
    assert found.best == -2
    plan = plan_pairs(ref.info, early.info, offset=-2)
    assert len(plan) == 28 and check_sync(ref, early, plan).verdict == "aligned"


def test_static_content_is_not_called_misaligned(videos):
    ref, st = open_stream(videos["static"]), open_stream(videos["static_noisy"])
    check = check_sync(ref, st, plan_pairs(ref.info, st.info))
    assert check.verdict == "aligned"
    found = find_offset(ref, st, search=2, seconds=1.0)
    assert found.best == 0 and "no offset stands out" in found.note


def test_a_dropped_frame_in_a_real_video(videos):
    ref = open_stream(videos["ref"])
    with_pts = open_stream(videos["dropped_pts"])
    with pytest.raises(AlignmentError, match=r"reference frame 12 \(0\.480 s\)"):
        plan_pairs(ref.info, with_pts.info)
    plan = plan_pairs(ref.info, with_pts.info, frames="overlap")
    assert len(plan) == 29 and (12, 12) not in pairs(plan) and (13, 12) in pairs(plan)
    assert check_sync(ref, with_pts, plan).verdict == "aligned"
    # re-timed after the drop (no gap in the timestamps): the counts differ, refused
    retimed = open_stream(videos["dropped"])
    with pytest.raises(AlignmentError, match="reference 30 frames, distorted 29"):
        plan_pairs(ref.info, retimed.info)


def test_real_24_vs_25_fps(videos):
    ref, d24 = open_stream(videos["ref"]), open_stream(videos["fps24"])
    with pytest.raises(AlignmentError, match="frame rates differ: reference 25 fps, distorted 24 fps"):
        plan_pairs(ref.info, d24.info)
    plan = plan_pairs(ref.info, d24.info, frames="overlap")
    assert plan.method == "hold" and len(plan) == 25 and plan.ref_unpaired == tuple(range(25, 30))
    assert check_sync(ref, d24, plan).verdict == "unchecked"


def test_folder_of_frames_pairs_with_a_video(tmp_path, videos):
    from conftest import write_png

    src = open_stream(videos["ref"])
    for f in src.frames():
        if f.index < 6:
            write_png(tmp_path / "frames" / f"{f.index:03d}.png", np.moveaxis(f.rgb(), 0, 2))
    folder = open_folder(tmp_path / "frames")
    with pytest.raises(AlignmentError, match="reference 30 frames, distorted 6"):
        plan_pairs(src.info, folder.info)
    plan = plan_pairs(src.info, folder.info, frames="overlap")
    assert pairs(plan) == [(i, i) for i in range(6)]
    assert check_sync(src, folder, plan).verdict == "aligned"
