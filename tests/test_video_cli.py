"""Issue 23 through the real command line, on videos the tests encode with
PyAV: ``iqa compare --per-frame`` equals the image API on the decoded planes
frame by frame, both PSNR poolings equal numpy, a one-frame offset is
refused and found, different rates and dropped frames are named, ``iqa
check`` passes identical lossless videos and fails (naming the frame) a
video with one changed frame, CSV and batch, ``--color yuv`` and its
pixel-weighted "all", and the missing ``video`` extra."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from click.testing import CliRunner

av = pytest.importorskip("av")

from test_video_make import noisy, scene, write_video  # noqa: E402

import iqa_cli  # noqa: E402
from iqa_cli.commands import main  # noqa: E402
from iqa_cli.report.contract import validate  # noqa: E402

TOL = 1e-12


def iqa(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def decoded_planes(path) -> list[list[np.ndarray]]:
    """Every frame's Y, U, V planes as FFmpeg decodes them, read from PyAV's
    buffers here (independent of iqa's reader)."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            dt = np.uint16 if f.format.name.endswith(("10le", "12le", "16le")) else np.uint8
            planes = []
            for p in f.planes:
                row = p.line_size // np.dtype(dt).itemsize
                a = np.frombuffer(p, dtype=dt, count=row * p.height).reshape(p.height, row)[:, : p.width]
                planes.append(a.copy())
            out.append(planes)
    return out


def api(x: np.ndarray, y: np.ndarray, L: float) -> dict[str, float]:
    """iqa's public image functions on one pair of planes (float64 tensors)."""
    X = torch.from_numpy(x.astype(np.float64)[None, None])
    Y = torch.from_numpy(y.astype(np.float64)[None, None])
    out = {"ssim": float(iqa_cli.ssim(X, Y, L)), "mse": float(iqa_cli.mse(X, Y)), "psnr": float(iqa_cli.psnr(X, Y, L))}
    if min(x.shape) >= 176:
        out["ms_ssim"] = float(iqa_cli.ms_ssim(X, Y, L))
    return out


def number(v) -> float:
    return float(v) if isinstance(v, str) else v  # strict JSON writes inf as "inf"


def lossless_pair(tmp_path, pix_fmt, size, n, *, same=()):
    """FFV1 reference and noisy distorted (frames in ``same`` left identical)."""
    bits = 10 if "10" in pix_fmt else 8
    ref = scene(*size, n, pix_fmt=pix_fmt)
    dist = noisy(ref, 4.0, bits=bits)
    for k in same:
        dist[k] = ref[k]
    r = write_video(tmp_path / "ref.mkv", ref, pix_fmt=pix_fmt)
    d = write_video(tmp_path / "dist.mkv", dist, pix_fmt=pix_fmt)
    return r, d, float(2**bits - 1)


# --------------------------------------------------------------------------- a, b: per-frame numbers


@pytest.mark.parametrize("pix_fmt,size", [("yuv420p", (200, 180)), ("yuv444p10le", (177, 179))])
def test_per_frame_jsonl_equals_the_image_api_on_the_decoded_y_plane(tmp_path, pix_fmt, size):
    r, d, L = lossless_pair(tmp_path, pix_fmt, size, 6, same=(2,))
    res = iqa("compare", r, d, "--per-frame", "--format", "jsonl", "--color", "y", "-m", "ssim,ms_ssim,mse,psnr")
    assert res.exit_code == 0, res.output
    lines = jsonl(res.stdout)
    for line in lines:
        validate(line, "jsonl")  # also done as written (IQA_CHECK_CONTRACT=1); here for certain
    frames = [x for x in lines if x["type"] == "frame"]
    pair = next(x for x in lines if x["type"] == "pair")
    R, D = decoded_planes(r), decoded_planes(d)
    assert [f["frame"] for f in frames] == list(range(6)) and [f["time"] for f in frames] == [i / 25 for i in range(6)]
    assert all(f["pair"] == str(r) for f in frames)
    worst = 0.0
    for f, a, b in zip(frames, R, D):
        want = api(a[0], b[0], L)
        assert set(f["metrics"]) == set(want) == {"ssim", "ms_ssim", "mse", "psnr"}
        for k, v in want.items():
            got = number(f["metrics"][k])
            if math.isinf(v):
                assert got == v
            else:
                worst = max(worst, abs(got - v))
                assert abs(got - v) <= TOL, (f["frame"], k, got, v)
    assert number(frames[2]["metrics"]["psnr"]) == math.inf and frames[2]["metrics"]["mse"] == 0
    assert worst <= TOL

    # b: both PSNR poolings against numpy on the same planes
    mse = np.array([np.mean((a[0].astype(np.float64) - b[0].astype(np.float64)) ** 2) for a, b in zip(R, D)])
    cap = 6 * (10 if L == 1023 else 8) + 12
    with np.errstate(divide="ignore"):
        per_db = 10 * np.log10(L**2 / mse)
    mean_db = float(np.mean(np.minimum(per_db, cap)))
    sse = sum(float(np.sum((a[0].astype(np.float64) - b[0].astype(np.float64)) ** 2)) for a, b in zip(R, D))
    total = 10 * math.log10(L**2 * R[0][0].size * len(R) / sse)
    m = pair["metrics"]
    assert abs(m["psnr_mean_db"] - mean_db) <= TOL and abs(m["psnr_total"] - total) <= TOL
    assert abs(m["psnr_total"] - 10 * math.log10(L**2 / mse.mean())) <= 1e-9  # = PSNR of the mean MSE, one size
    assert m["psnr"] == m["psnr_mean_db"]  # pooled by mean: the capped mean
    assert pair["video"]["psnr_cap_db"] == cap and pair["video"]["frames_at_cap"] == 1
    assert any("1 of 6 frames at or above the" in w for w in pair["warnings"])
    assert pair["data_range"] == L


def test_frame_lines_are_checked_by_the_contract():
    """The shipped JSONL schema covers frame lines: a broken one is refused."""
    jsonschema = pytest.importorskip("jsonschema")
    good = {"schema": "iqa/2", "type": "frame", "pair": "a.mkv", "frame": 0, "time": 0.0, "metrics": {"ssim": 1.0}}
    validate(good, "jsonl")
    no_time = {k: v for k, v in good.items() if k != "time"}
    for bad in ({**good, "frame": -1}, {**good, "metrics": {"sim": 1.0}}, no_time, {**good, "extra": 1}):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad, "jsonl")


# --------------------------------------------------------------------------- c: a one-frame offset


@pytest.fixture
def shifted(tmp_path):
    """The distorted stream is the reference one frame on: distorted frame i-1 shows reference frame i."""
    r = write_video(tmp_path / "ref.mkv", scene(64, 48, 8))
    d = write_video(tmp_path / "late.mkv", scene(64, 48, 8, start=1))
    return r, d


def test_one_frame_offset_is_refused_naming_offset_and_find_offset(shifted):
    r, d = shifted
    res = iqa("compare", r, d, "--color", "y", "-m", "mse")
    assert res.exit_code == 1
    err = [line for line in res.stderr.splitlines() if line.startswith("iqa: error:")]
    assert len(err) == 1 and "frame mismatch" in err[0] and "misaligned" in err[0]
    assert "--offset -1" in err[0] and "--find-offset" in err[0]
    doc = json.loads(iqa("compare", r, d, "--color", "y", "-m", "mse", "--format", "json").stdout)
    assert doc["pairs"][0]["metrics"] == {} or all(v is None for v in doc["pairs"][0]["metrics"].values())


def test_find_offset_finds_it_and_never_applies_it(shifted):
    r, d = shifted
    res = iqa("compare", r, d, "--color", "y", "-m", "mse", "--find-offset", "3", "--format", "json")
    assert res.exit_code == 1  # found, reported, not applied: the pair is still refused
    row = json.loads(res.stdout)["pairs"][0]
    assert "set --offset -1" in row["error"] and "best offset -1" in row["error"]
    assert all(v is None for v in row["metrics"].values())
    # with the offset it found, the search is a note and every paired frame is exact
    res = iqa("compare", r, d, "--color", "y", "-m", "mse,psnr", "--offset", "-1", "--find-offset", "3",
              "--per-frame", "--format", "jsonl")
    assert res.exit_code == 0, res.output
    lines = jsonl(res.stdout)
    pair = next(x for x in lines if x["type"] == "pair")
    assert any(w.startswith("offset search: best offset -1") for w in pair["warnings"])
    frames = [x for x in lines if x["type"] == "frame"]
    assert [f["frame"] for f in frames] == list(range(1, 8))  # reference frame 0 has no partner
    assert all(f["metrics"]["mse"] == 0 for f in frames) and pair["metrics"]["mse"] == 0
    assert any("1 reference frame without a distorted frame left out: 0" in w for w in pair["warnings"])


@pytest.mark.parametrize("mode", ["exact", "overlap"])
def test_offset_scores_the_shifted_pair(shifted, mode):
    r, d = shifted
    res = iqa("compare", r, d, "--color", "y", "-m", "mse", "--offset", "-1", "--frames", mode, "--format", "json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["pairs"][0]
    assert row["metrics"]["mse"] == 0 and row["video"]["frames"] == 7
    assert row["video"]["pools"]["mse"]["min"] == 0  # the worst frame too: every pair is exact


# --------------------------------------------------------------------------- d: rates and dropped frames


def test_different_rates_are_an_error_naming_frames_and_overlap_says_what_it_left_out(tmp_path):
    r = write_video(tmp_path / "r25.mkv", scene(64, 48, 10), rate=25)
    d = write_video(tmp_path / "d24.mkv", scene(64, 48, 6), rate=24)
    res = iqa("compare", r, d, "--color", "y", "-m", "psnr")
    assert res.exit_code == 1
    assert "frame rates differ: reference 25 fps, distorted 24 fps" in res.stderr
    assert "--frames overlap" in res.stderr and "--frames ref" in res.stderr
    res = iqa("compare", r, d, "--color", "y", "-m", "psnr", "--frames", "overlap", "--format", "json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["pairs"][0]
    # d24 ends at 0.25 s: reference frames 7-9 (0.28-0.36 s) have no distorted frame on screen
    assert row["video"]["frames"] == 7 and row["video"]["distorted_frames"] == 6
    assert any(w.startswith("frame rates differ (25 fps vs 24 fps)") for w in row["warnings"])
    assert "3 reference frames outside the distorted stream left out: 7-9 (0.280-0.360 s)" in row["warnings"]
    assert "--frames ref" in iqa("compare", r, d, "--color", "y", "-m", "psnr", "--frames", "ref").stderr


def test_a_dropped_frame_is_reported(tmp_path):
    frames = scene(64, 48, 8)
    r = write_video(tmp_path / "ref.mkv", frames)
    d = write_video(tmp_path / "gap.mkv", [f for i, f in enumerate(frames) if i != 3], pts=[0, 1, 2, 4, 5, 6, 7])
    res = iqa("compare", r, d, "--color", "y", "-m", "mse")
    assert res.exit_code == 1
    assert "the distorted has no frame for reference frame 3 (0.120 s)" in res.stderr
    assert "distorted: timestamps skip 1 missing frame (1 after frame 2 at 0.080 s)" in res.stdout
    res = iqa("compare", r, d, "--color", "y", "-m", "mse", "--frames", "overlap", "--format", "json")
    assert res.exit_code == 0
    row = json.loads(res.stdout)["pairs"][0]
    assert row["metrics"]["mse"] == 0 and row["video"]["frames"] == 7  # no frame shifted by the gap
    assert "1 reference frame without a distorted frame left out: 3 (0.120 s)" in row["warnings"]
    assert "distorted: timestamps skip 1 missing frame (1 after frame 2 at 0.080 s)" in row["warnings"]


def test_variable_frame_rate_is_reported(tmp_path):
    frames = scene(64, 48, 6)
    # steps of 40, 40, 60, 40, 40 ms: 60 is no whole number of frames (not a gap)
    v = write_video(tmp_path / "vfr.mkv", frames, pts=[0, 4, 8, 14, 18, 22], rate=100)
    c = write_video(tmp_path / "cfr.mkv", frames[:4] + frames[4:], pts=[0, 4, 8, 12, 16, 20], rate=100)
    res = iqa("compare", c, v, "--color", "y", "-m", "mse", "--frames", "overlap", "--format", "json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["pairs"][0]
    assert "distorted has a variable frame rate" in row["warnings"], row["warnings"]


# --------------------------------------------------------------------------- e: iqa check


@pytest.fixture
def base_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frames = scene(96, 64, 8)
    for name in ("base", "out", "bad"):
        (tmp_path / name).mkdir()
    write_video(tmp_path / "base" / "clip.mkv", frames)
    write_video(tmp_path / "out" / "clip.mkv", frames, options={"context": "1"})  # other bytes, same planes
    changed = [tuple(p.copy() for p in f) for f in frames]
    changed[4][0][20:36, 30:50] = 255 - changed[4][0][20:36, 30:50]
    write_video(tmp_path / "bad" / "clip.mkv", changed)
    return tmp_path


def test_check_passes_identical_lossless_videos(base_out):
    assert (base_out / "base" / "clip.mkv").read_bytes() != (base_out / "out" / "clip.mkv").read_bytes()
    res = iqa("check", "base", "out")
    assert res.exit_code == 0, res.output
    assert "PASS    clip.mkv" in res.stdout and "PASS: all 1 pair within the gates" in res.stdout
    doc = json.loads(iqa("check", "base", "out", "--json", "-").stdout)
    row = doc["pairs"][0]
    assert row["metrics"]["ssim"] == 1 and row["video"]["frames"] == 8 and row["video"]["pools"]["ssim"]["min"] == 1


def test_check_pool_min_fails_the_video_on_its_worst_frame_and_names_it(base_out):
    res = iqa("check", "base", "bad", "--pool", "min", "--fail-if", "ssim_min<0.95")
    assert res.exit_code == 1
    assert "FAIL    clip.mkv" in res.stdout
    assert "worst ssim_min at frame 4 (0.160 s)" in res.stdout
    doc = json.loads(iqa("check", "base", "bad", "--pool", "min", "--fail-if", "ssim_min<0.95", "--json", "-").stdout)
    row = doc["pairs"][0]
    assert row["video"]["worst"]["ssim_min"]["frame"] == 4 and row["video"]["worst"]["ssim_min"]["time"] == 0.16
    assert row["metrics"]["ssim_min"] == row["video"]["pools"]["ssim_min"]["min"] < 0.95


def test_check_pool_mean_averages_the_changed_frame_away_and_min_does_not(base_out):
    """The default pool is the mean: one changed frame in eight moves mean SSIM
    by an eighth of its drop, so a loose gate passes it; --pool min does not."""
    doc = json.loads(iqa("check", "base", "bad", "--fail-if", "ssim<0.95", "--json", "-").stdout)
    row = doc["pairs"][0]
    pools = row["video"]["pools"]["ssim"]
    assert row["metrics"]["ssim"] == pools["mean"]
    worst = pools["min"]
    assert abs(pools["mean"] - (7 + worst) / 8) <= 1e-12  # seven identical frames at 1
    assert worst < 0.95 < pools["mean"]
    assert iqa("check", "base", "bad", "--fail-if", "ssim<0.95").exit_code == 0
    res = iqa("check", "base", "bad", "--fail-if", "ssim<0.95", "--pool", "min")
    assert res.exit_code == 1 and "worst ssim at frame 4 (0.160 s)" in res.stdout
    # the default gates (ssim<0.99 on the mean) catch it and name the frame
    res = iqa("check", "base", "bad")
    assert res.exit_code == 1 and "at frame 4 (0.160 s)" in res.stdout


def test_html_report_of_a_failing_video_charts_every_frame_and_marks_the_worst(base_out):
    res = iqa("check", "base", "bad", "--pool", "min", "--fail-if", "ssim_min<0.95", "--html", "rep")
    assert res.exit_code == 1
    page = (base_out / "rep" / "index.html").read_text()
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    assert len(svgs) == 1
    svg = ET.fromstring(svgs[0])
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert svg.get("aria-label") == "per-frame SSIM min and SSIM and PSNR dB"  # the gated column first
    lines = svg.findall("s:polyline", ns)
    assert len(lines) == 3  # one panel per column, each one run over all 8 frames
    points = [[tuple(map(float, p.split(","))) for p in pl.get("points").split()] for pl in lines]
    assert [len(p) for p in points] == [8, 8, 8]
    marks = svg.findall("s:circle[@class='wdot']", ns)
    assert len(marks) == 3
    for pts, mark in zip(points, marks):  # the worst frame is frame 4 in every panel
        assert (float(mark.get("cx")), float(mark.get("cy"))) == pts[4]
        assert pts[4][1] == max(y for _, y in pts)  # lowest on screen: the worst value
    labels = [t.text for t in svg.findall("s:text[@class='w']", ns)]
    assert labels == ["worst: frame 4 (0.160 s)"] * 3
    assert "<figcaption>output, frame 4 (0.160 s)</figcaption>" in page


# --------------------------------------------------------------------------- f: CSV and batch


def test_per_frame_csv_has_frame_and_time_columns_and_one_row_per_frame(tmp_path):
    r, d, _ = lossless_pair(tmp_path, "yuv420p", (64, 48), 6)
    res = iqa("compare", r, d, "--per-frame", "--format", "csv", "--color", "y", "-m", "ssim,psnr")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    head = res.stdout.splitlines()[0].split(",")
    assert head[:4] == ["reference", "distorted", "frame", "time"]
    frames = [x for x in rows if x["frame"] != ""]
    assert [int(x["frame"]) for x in frames] == list(range(6))
    assert [float(x["time"]) for x in frames] == [i / 25 for i in range(6)]
    pooled = [x for x in rows if x["frame"] == ""]
    assert len(pooled) == 1 and pooled[0]["time"] == ""
    mean = sum(float(x["ssim"]) for x in frames) / 6
    assert abs(float(pooled[0]["ssim"]) - mean) <= 1e-12
    assert pooled[0]["psnr_mean_db"] and pooled[0]["psnr_total"] and not frames[0]["psnr_total"]


def test_batch_pairs_videos_by_name(tmp_path):
    for k, name in enumerate(("a.mkv", "sub/b.mkv")):
        frames = scene(64, 48, 6, seed=k)
        (tmp_path / "ref" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "dist" / name).parent.mkdir(parents=True, exist_ok=True)
        write_video(tmp_path / "ref" / name, frames)
        write_video(tmp_path / "dist" / name, noisy(frames, 2.0 + 4 * k))
    res = iqa("batch", tmp_path / "ref", tmp_path / "dist", "--color", "y", "-m", "psnr", "--format", "jsonl")
    assert res.exit_code == 0, res.output
    pairs = [x for x in jsonl(res.stdout) if x["type"] == "pair"]
    got = {(p["reference"][len(str(tmp_path)) + 1:], p["distorted"][len(str(tmp_path)) + 1:]): p for p in pairs}
    assert set(got) == {("ref/a.mkv", "dist/a.mkv"), ("ref/sub/b.mkv", "dist/sub/b.mkv")}
    assert all(p["video"]["frames"] == 6 for p in pairs)
    a, b = got[("ref/a.mkv", "dist/a.mkv")], got[("ref/sub/b.mkv", "dist/sub/b.mkv")]
    assert a["metrics"]["psnr"] > b["metrics"]["psnr"]  # sigma 2 against sigma 6: each pair has its own numbers


# --------------------------------------------------------------------------- g: --color yuv


def test_color_yuv_reports_each_plane_and_the_pixel_weighted_all(tmp_path):
    r, d, L = lossless_pair(tmp_path, "yuv420p", (66, 50), 4)
    res = iqa("compare", r, d, "--per-frame", "--format", "jsonl", "--color", "yuv", "-m", "ssim,mse,psnr")
    assert res.exit_code == 0, res.output
    lines = jsonl(res.stdout)
    frames = [x for x in lines if x["type"] == "frame"]
    pair = next(x for x in lines if x["type"] == "pair")
    R, D = decoded_planes(r), decoded_planes(d)
    for f, a, b in zip(frames, R, D):
        m = f["metrics"]
        n = [p.size for p in a]
        assert n == [66 * 50, 33 * 25, 33 * 25]
        sq = [float(np.sum((x.astype(np.float64) - y.astype(np.float64)) ** 2)) for x, y in zip(a, b)]
        for k, plane in enumerate("yuv"):
            want = api(a[k], b[k], L)
            for metric in ("ssim", "mse", "psnr"):
                assert abs(m[f"{metric}_{plane}"] - want[metric]) <= TOL
        assert abs(m["mse"] - sum(sq) / sum(n)) <= TOL  # "all": every sample of the three planes
        assert abs(m["ssim"] - sum(m[f"ssim_{p}"] * w for p, w in zip("yuv", n)) / sum(n)) <= TOL
        assert abs(m["psnr"] - 10 * math.log10(L**2 * sum(n) / sum(sq))) <= TOL
    for col in ("ssim_y", "ssim_u", "ssim_v", "mse_u", "psnr_total_v", "psnr_mean_db_y"):
        assert col in pair["metrics"]
    table = iqa("compare", r, d, "--color", "yuv", "-m", "ssim,mse,psnr").stdout
    m = pair["metrics"]
    want = "Y/U/V: SSIM " + " / ".join(f"{m[f'ssim_{p}']:.6f}" for p in "yuv")
    assert want in table and "PSNR " + " / ".join(f"{m[f'psnr_{p}']:.2f}" for p in "yuv") + " dB" in table


# --------------------------------------------------------------------------- h: no PyAV


def test_without_pyav_a_video_pair_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    r, d, _ = lossless_pair(tmp_path, "yuv420p", (64, 48), 2)
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now raises ImportError
    res = iqa("compare", r, d)
    assert res.exit_code == 2, res.output
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and 'pip install "iqa-cli[video]"' in err[0] and str(r) in err[0]
    assert "Traceback" not in res.output
