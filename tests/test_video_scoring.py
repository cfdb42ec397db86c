"""Per-frame scoring of two videos: on lossless videos every frame's numbers
equal iqa's image API on the decoded planes (<= 1e-12), both PSNR poolings
equal a direct numpy computation, identical videos, per-plane YUV with the
pixel-weighted "all", bit depths, and the worst frame."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")

from test_video_make import noisy, scene, write_video  # noqa: E402

import iqa_cli  # noqa: E402
from iqa_cli.errors import UsageError  # noqa: E402
from iqa_cli.io.frame_align import plan_pairs  # noqa: E402
from iqa_cli.io.frames import open_stream  # noqa: E402
from iqa_cli.io.yuv import yuv_to_rgb  # noqa: E402
from iqa_cli.results import Settings  # noqa: E402
from iqa_cli.video_scoring import score_frames, score_video  # noqa: E402

TOL = 1e-12


def t(a: np.ndarray) -> torch.Tensor:
    a = np.asarray(a, dtype=np.float64)
    return torch.from_numpy(a[None, None] if a.ndim == 2 else a[None])


def image_api(x: np.ndarray, y: np.ndarray, L: float, metrics) -> dict[str, float]:
    """iqa's public image functions on one pair of planes (float64 tensors)."""
    out = {}
    X, Y = t(x), t(y)
    if "ssim" in metrics:
        out["ssim"] = float(iqa_cli.ssim(X, Y, L))
    if "ms_ssim" in metrics and min(X.shape[-2:]) >= 176:
        out["ms_ssim"] = float(iqa_cli.ms_ssim(X, Y, L))
    if "mse" in metrics:
        out["mse"] = float(iqa_cli.mse(X, Y))
    if "psnr" in metrics:
        out["psnr"] = float(iqa_cli.psnr(X, Y, L))
    if "tv" in metrics:
        out["tv_reference"] = float(iqa_cli.total_variation(X, "l1", "mean", data_range=L))
        out["tv_distorted"] = float(iqa_cli.total_variation(Y, "l1", "mean", data_range=L))
    return out


def close(a, b, tol=TOL):
    if isinstance(b, float) and math.isinf(b):
        return a == b
    return abs(a - b) <= tol


def make_pair(tmp_path, *, pix_fmt="yuv420p", size=(96, 64), n=6, codec="ffv1", sigma=4.0, rate=25):
    ref = scene(*size, n, pix_fmt=pix_fmt)
    dist = noisy(ref, sigma, bits=10 if "10" in pix_fmt else 8)
    ext, opts = ("mkv", None) if codec == "ffv1" else ("mp4", {"qp": "0"})
    r = write_video(tmp_path / f"ref.{ext}", ref, codec=codec, pix_fmt=pix_fmt, rate=rate, options=opts)
    d = write_video(tmp_path / f"dist.{ext}", dist, codec=codec, pix_fmt=pix_fmt, rate=rate, options=opts)
    return ref, dist, open_stream(r), open_stream(d)


@pytest.mark.parametrize("pix_fmt,size,codec", [
    ("yuv420p", (96, 64), "ffv1"),
    ("yuv444p10le", (64, 48), "ffv1"),
    ("yuv420p10le", (65, 47), "ffv1"),  # odd size
    ("yuv444p", (64, 48), "libx264"),  # H.264 lossless (qp 0)
    ("yuv420p", (200, 180), "libx264"),  # MS-SSIM needs 176 px
])
def test_lossless_video_equals_the_image_api_per_frame_on_y(tmp_path, pix_fmt, size, codec):
    ref, dist, R, D = make_pair(tmp_path, pix_fmt=pix_fmt, size=size, codec=codec)
    L = 1023.0 if "10" in pix_fmt else 255.0
    settings = Settings()
    rows = list(score_frames(R, D, plan_pairs(R.info, D.info), settings, color="y"))
    assert [(f.ref, f.dist) for f in rows] == [(i, i) for i in range(6)]
    assert [f.time for f in rows] == [i / 25 for i in range(6)]
    checked = 0
    for f, a, b in zip(rows, ref, dist):
        want = image_api(a[0], b[0], L, settings.metrics)
        assert set(f.values) == set(settings.columns)
        for col, v in want.items():
            assert close(f.values[col], v), (col, f.values[col], v)
            checked += 1
        if min(size) < 176:
            assert f.values["ms_ssim"] is None and "ms_ssim" in f.failed
        assert f.sse[""] == pytest.approx(((a[0].astype(np.float64) - b[0]) ** 2).sum(), rel=1e-14)
    assert checked >= 6 * 5


def test_yuv_scores_each_plane_and_a_pixel_weighted_all(tmp_path):
    ref, dist, R, D = make_pair(tmp_path, pix_fmt="yuv420p", size=(96, 64), n=4)
    settings = Settings(metrics=("ssim", "mse", "psnr"))
    rows = list(score_frames(R, D, plan_pairs(R.info, D.info), settings, color="yuv"))
    for f, a, b in zip(rows, ref, dist):
        per = {}
        for k, name in enumerate("yuv"):
            want = image_api(a[k], b[k], 255.0, settings.metrics)
            for col, v in want.items():
                assert close(f.values[f"{col}_{name}"], v)
            per[name] = want
        # 4:2:0: Y counts 4/6, U and V 1/6 each (FFmpeg's "All" weighting)
        assert close(f.values["ssim"], (4 * per["y"]["ssim"] + per["u"]["ssim"] + per["v"]["ssim"]) / 6, 1e-14)
        sse = sum(((a[k].astype(np.float64) - b[k]) ** 2).sum() for k in range(3))
        n = sum(p.size for p in a)
        assert close(f.values["mse"], sse / n, 1e-9)
        assert close(f.values["psnr"], 10 * math.log10(255.0**2 * n / sse), 1e-12)


def test_rgb_scores_the_documented_conversion(tmp_path):
    ref, dist, R, D = make_pair(tmp_path, pix_fmt="yuv444p10le", size=(64, 48), n=3)
    rows = list(score_frames(R, D, plan_pairs(R.info, D.info), Settings(metrics=("ssim", "psnr")), color="rgb"))
    fmt = R.info.yuv
    for f, a, b in zip(rows, ref, dist):
        want = image_api(yuv_to_rgb(*a, fmt), yuv_to_rgb(*b, fmt), 1023.0, ("ssim", "psnr"))
        assert close(f.values["ssim"], want["ssim"]) and close(f.values["psnr"], want["psnr"])


def test_both_psnr_poolings_match_numpy(tmp_path):
    ref, dist, R, D = make_pair(tmp_path, pix_fmt="yuv420p10le", size=(64, 48), n=8)
    dist[3] = ref[3]  # one identical frame: infinite PSNR, counted at the cap
    d = write_video(tmp_path / "dist2.mkv", dist, pix_fmt="yuv420p10le")
    D = open_stream(d)
    result = score_video(R, D, plan_pairs(R.info, D.info), Settings(metrics=("psnr",)), color="y")
    L = 1023.0
    sq = [((a[0].astype(np.float64) - b[0]) ** 2).sum() for a, b in zip(ref, dist)]
    n = ref[0][0].size
    per_db = [10 * math.log10(L * L * n / s) if s else math.inf for s in sq]
    assert result.cap_db == 72.0  # 6 * 10 + 12 at 10 bits
    expect_mean = float(np.mean([min(p, 72.0) for p in per_db]))
    expect_total = 10 * math.log10(L * L * n * len(sq) / sum(sq))
    m = result.pair_metrics("mean")
    assert close(m["psnr_mean_db"], expect_mean) and close(m["psnr_total"], expect_total)
    assert m["psnr"] == m["psnr_mean_db"]  # the mean pool of PSNR is the capped mean
    assert result.psnr_mean_db[""].capped_frames == 1
    assert result.frames[3].values["psnr"] == math.inf  # per frame: the image API's inf
    assert result.pair_metrics("min")["psnr"] == min(per_db)
    assert close(result.pair_metrics("harmonic")["psnr"],
                 len(per_db) / sum(1 / min(p, 72.0) for p in per_db))


def test_identical_lossless_videos(tmp_path):
    frames = scene(96, 64, 5)
    R = open_stream(write_video(tmp_path / "a.mkv", frames))
    D = open_stream(write_video(tmp_path / "b.mkv", frames))
    result = score_video(R, D, plan_pairs(R.info, D.info), Settings(), color="y")
    assert all(f.identical for f in result.frames)
    m = result.pair_metrics("min")
    assert m["ssim"] == 1.0 and m["mse"] == 0.0 and m["psnr"] == 60.0
    assert m["psnr_mean_db"] == 60.0 and m["psnr_total"] == math.inf


def test_worst_frame_names_its_index_and_time(tmp_path):
    ref = scene(96, 64, 8)
    dist = noisy(ref, 1.0)
    dist[5] = noisy([ref[5]], 12.0, seed=9)[0]
    R = open_stream(write_video(tmp_path / "r.mkv", ref))
    D = open_stream(write_video(tmp_path / "d.mkv", dist))
    result = score_video(R, D, plan_pairs(R.info, D.info), Settings(metrics=("ssim", "mse", "psnr")))
    for col in ("ssim", "mse", "psnr"):
        worst = result.worst(col)[0]
        assert (worst.ref, worst.time) == (5, 0.2)
        assert result.pooled[col].worst_frame == 5
    assert result.pair_metrics("min")["ssim"] == result.frames[5].values["ssim"]
    assert result.pair_metrics("min")["mse"] == result.frames[5].values["mse"]  # worst MSE is the largest
    assert [f.ref for f in result.worst("ssim", 3)][0] == 5


def test_8_bit_against_10_bit_limited_range_is_shifted_not_stretched(tmp_path):
    ref8 = scene(64, 48, 3, pix_fmt="yuv420p")
    ref10 = [tuple(p.astype(np.uint16) * 4 for p in f) for f in ref8]  # BT.2100: 8-bit level v is 4v
    R = open_stream(write_video(tmp_path / "a.mkv", ref8))
    D = open_stream(write_video(tmp_path / "b.mkv", ref10, pix_fmt="yuv420p10le"))
    result = score_video(R, D, plan_pairs(R.info, D.info), Settings(metrics=("psnr", "ssim")), color="yuv")
    assert all(f.values["psnr"] == math.inf for f in result.frames)
    assert any("reference is 8-bit, the other 10-bit: reference scaled onto 0..1023 (x4)" in n for n in result.notes)


def test_video_against_its_own_frames_as_png(tmp_path):
    from conftest import write_png

    frames = scene(64, 48, 4)
    R = open_stream(write_video(tmp_path / "a.mkv", frames))
    for f in R.frames():
        write_png(tmp_path / "png" / f"f{f.index}.png", np.moveaxis(f.rgb(), 0, 2))
    D = open_stream(tmp_path / "png")
    result = score_video(R, D, plan_pairs(R.info, D.info), Settings(metrics=("ssim", "psnr")), color="rgb")
    assert all(f.values["ssim"] == 1.0 and f.values["psnr"] == math.inf for f in result.frames)
    assert result.frames[0].time == 0.0 and result.frames[1].time == pytest.approx(0.04)
    with pytest.raises(UsageError, match="yuv needs YUV video on both sides"):
        list(score_frames(R, D, plan_pairs(R.info, D.info), Settings(), color="yuv"))


def test_gif_frames_score_like_the_image_api(tmp_path):
    from PIL import Image

    from conftest import distort, smooth_image

    a = [smooth_image(40, 48, seed=i) for i in range(3)]
    b = [distort(x, seed=i, amount=6.0) for i, x in enumerate(a)]
    for name, frames in (("a.png", a), ("b.png", b)):
        Image.fromarray(frames[0]).save(tmp_path / name, save_all=True,
                                        append_images=[Image.fromarray(f) for f in frames[1:]], duration=100)
    R, D = open_stream(tmp_path / "a.png"), open_stream(tmp_path / "b.png")
    rows = list(score_frames(R, D, plan_pairs(R.info, D.info), Settings(metrics=("ssim", "psnr")), color="rgb"))
    for f, x, y in zip(rows, a, b):
        assert close(f.values["ssim"], float(iqa_cli.ssim(t(np.moveaxis(x, 2, 0)), t(np.moveaxis(y, 2, 0)), 255.0)))
    y_rows = list(score_frames(R, D, plan_pairs(R.info, D.info), Settings(metrics=("ssim",)), color="y"))
    for f, x, y in zip(y_rows, a, b):
        lx = iqa_cli.rgb_to_y_bt601(t(np.moveaxis(x, 2, 0)), 255.0, round=True)
        ly = iqa_cli.rgb_to_y_bt601(t(np.moveaxis(y, 2, 0)), 255.0, round=True)
        assert close(f.values["ssim"], float(iqa_cli.ssim(lx, ly, 255.0)))


def test_decode_errors_reach_the_caller(tmp_path):
    ref, dist, R, D = make_pair(tmp_path, n=6)
    plan = plan_pairs(R.info, D.info)
    write_video(tmp_path / "dist.mkv", dist[:3])  # the file shrinks after the probe
    from iqa_cli.io.video import VideoError

    with pytest.raises(VideoError, match="decoded 3 frames, the container lists 6"):
        list(score_frames(R, D, plan, Settings(metrics=("psnr",))))


def test_unsupported_settings_are_one_line_usage_errors(tmp_path):
    _, _, R, D = make_pair(tmp_path, n=2)
    plan = plan_pairs(R.info, D.info)
    with pytest.raises(UsageError, match="not supported for video"):
        list(score_frames(R, D, plan, Settings(ignore=((0, 0, 4, 4),))))
    with pytest.raises(UsageError, match="protocol basicsr converts RGB itself"):
        list(score_frames(R, D, plan, Settings(protocol="basicsr"), color="y"))


def test_batches_give_the_same_numbers(tmp_path):
    _, _, R, D = make_pair(tmp_path, n=5)
    plan = plan_pairs(R.info, D.info)
    one = [f.values for f in score_frames(R, D, plan, Settings(), batch=1)]
    three = [f.values for f in score_frames(R, D, plan, Settings(), batch=3)]
    for a, b in zip(one, three):
        for k in a:
            assert a[k] is None and b[k] is None or abs(a[k] - b[k]) <= 1e-12


def test_per_frame_json_rows(tmp_path):
    import json

    frames = scene(64, 48, 3)
    R = open_stream(write_video(tmp_path / "a.mkv", frames))
    D = open_stream(write_video(tmp_path / "b.mkv", frames[:1] + noisy(frames[1:], 3.0)))
    rows = [f.to_json(str(R.info.path)) for f in score_frames(R, D, plan_pairs(R.info, D.info),
                                                              Settings(metrics=("ssim", "psnr")))]
    assert [json.loads(json.dumps(r, allow_nan=False))["frame"] for r in rows] == [0, 1, 2]
    first = rows[0]
    assert first == {"schema": "iqa/2", "type": "frame", "pair": str(tmp_path / "a.mkv"), "frame": 0, "time": 0.0,
                     "metrics": {"ssim": 1.0, "psnr": "inf"}}
    assert rows[2]["time"] == 0.08 and 0 < rows[2]["metrics"]["ssim"] < 1
