"""Both PSNR poolings against FFmpeg's and libvmaf's own numbers on the same
files: ``psnr_total`` is FFmpeg's ``psnr`` "PSNR y" (PSNR of the mean MSE) and
libvmaf's ``apsnr_y``; ``psnr_mean_db`` is libvmaf's pooled ``psnr_y`` mean
(per-frame dB capped at 6·bits + 12, identical frames included). Needs the
ffmpeg binary of ``imageio-ffmpeg`` (built with libvmaf); skipped without it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

av = pytest.importorskip("av")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

from test_video_make import noisy, scene, write_video  # noqa: E402

from iqa_cli.io.frame_align import plan_pairs  # noqa: E402
from iqa_cli.io.frames import open_stream  # noqa: E402
from iqa_cli.results import Settings  # noqa: E402
from iqa_cli.video_scoring import score_video  # noqa: E402


def _ffmpeg(*args: str) -> str:
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    p = subprocess.run([exe, "-hide_banner", "-nostats", *args, "-f", "null", "-"], capture_output=True, text=True,
                       timeout=120)
    if p.returncode:
        pytest.skip(f"ffmpeg failed: {p.stderr[-300:]}")
    return p.stderr


@pytest.mark.parametrize("pix_fmt,cap", [("yuv420p", 60.0), ("yuv420p10le", 72.0)])
def test_psnr_poolings_equal_ffmpeg_and_libvmaf(tmp_path, pix_fmt, cap):
    bits = 10 if "10" in pix_fmt else 8
    ref = scene(96, 64, 8, pix_fmt=pix_fmt)
    dist = noisy(ref, 3.0, bits=bits)
    dist[2] = ref[2]  # an identical frame: counted at the cap
    dist[5] = noisy([ref[5]], 0.02, bits=bits, seed=5)[0]  # a few samples off: above the cap
    r = write_video(tmp_path / "ref.mkv", ref, pix_fmt=pix_fmt)
    d = write_video(tmp_path / "dist.mkv", dist, pix_fmt=pix_fmt)
    R, D = open_stream(r), open_stream(d)
    res = score_video(R, D, plan_pairs(R.info, D.info), Settings(metrics=("psnr",)), color="y")
    assert res.cap_db == cap and res.psnr_mean_db[""].capped_frames >= 2

    log = _ffmpeg("-i", str(r), "-i", str(d), "-lavfi", "[0:v][1:v]psnr")
    ff_y = float(re.search(r"PSNR y:([0-9.]+)", log).group(1))
    assert res.psnr_total[""] == pytest.approx(ff_y, abs=1e-6)

    out = tmp_path / "vmaf.json"
    log = _ffmpeg("-i", str(d), "-i", str(r), "-lavfi",
                  f"[0:v][1:v]libvmaf=feature=name=psnr\\\\:enable_apsnr=true:log_fmt=json:log_path={out}")
    vm = json.loads(out.read_text())
    assert res.psnr_mean_db[""].value == pytest.approx(vm["pooled_metrics"]["psnr_y"]["mean"], abs=1e-6)
    assert res.psnr_total[""] == pytest.approx(vm["aggregate_metrics"]["apsnr_y"], abs=1e-6)
    per = [f["metrics"]["psnr_y"] for f in vm["frames"]]
    assert per[2] == cap and per[5] == cap
    for f, v in zip(res.frames, per):
        assert min(f.values["psnr"], cap) == pytest.approx(v, abs=1e-6)


def test_yuv_planes_and_all_equal_ffmpeg_psnr(tmp_path):
    """FFmpeg's per-plane "PSNR y/u/v" and its "average" (the planes' squared
    errors weighted by their sample counts, 4:2:0: 4/6, 1/6, 1/6) are iqa's
    ``psnr_total`` under ``color="yuv"``: ``_y``, ``_u``, ``_v`` and the plain one."""
    ref = scene(96, 64, 6)
    dist = noisy(ref, 4.0)
    r = write_video(tmp_path / "ref.mkv", ref)
    d = write_video(tmp_path / "dist.mkv", dist)
    R, D = open_stream(r), open_stream(d)
    res = score_video(R, D, plan_pairs(R.info, D.info), Settings(metrics=("psnr",)), color="yuv")
    log = _ffmpeg("-i", str(r), "-i", str(d), "-lavfi", "[0:v][1:v]psnr")
    ff = {k: float(v) for k, v in re.findall(r"\b(y|u|v|average):([0-9.]+)", log.split("PSNR", 1)[1])}
    for key, suffix in (("y", "_y"), ("u", "_u"), ("v", "_v"), ("average", "")):
        assert res.psnr_total[suffix] == pytest.approx(ff[key], abs=1e-6), key
