"""Robustness matrix: iqa runs unattended over files other programs wrote.

Every row creates a real file in ``tmp_path`` and checks, through the CLI:
one line on stderr naming the file and the problem, no traceback, the
documented exit code (0 ok, 1 size mismatch / regression, 2 error, 3 nothing
compared, 130 interrupted), and in a batch an ``error`` row while the good
pairs are still scored. Also: atomic report files, Ctrl-C mid-run, and the
GPU out-of-memory fallback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from click.testing import CliRunner
from PIL import Image

import iqa_cli.io.load as iio
import iqa_cli.runner as runner
from iqa_cli.commands import main

RNG = np.random.default_rng(7)
METRIC_COLS = ("ssim", "ms_ssim", "mse", "psnr", "tv_reference", "tv_distorted", "mix")


# --------------------------------------------------------------------------- helpers


def invoke(*args: str, input: str | None = None):
    res = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=True)
    # an uncaught exception inside the command is a bug of its own
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback

        raise AssertionError(
            "uncaught exception:\n" + "".join(traceback.format_exception(res.exception)) + res.stderr
        )
    return res


def error_lines(res) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.startswith("iqa: error:")]


def assert_clean(res, code: int, *needles: str, errors: int | None = 1) -> str:
    """Exit code, no traceback, ``errors`` error lines, each needle on one error line."""
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = error_lines(res)
    if errors is not None:
        assert len(lines) == errors, res.stderr
    for n in needles:
        assert any(n in ln for ln in lines), (n, res.stderr)
    return "\n".join(lines)


def png(path: Path, h: int = 32, w: int = 32, mode: str = "RGB", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    ch = {"L": None, "RGB": 3, "RGBA": 4}[mode]
    shape = (h, w) if ch is None else (h, w, ch)
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    if mode == "RGBA":
        arr[..., 3] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path)
    return path


def noisy_copy(src: Path, dst: Path, seed: int = 1) -> Path:
    arr = np.asarray(Image.open(src)).astype(np.int16)
    arr = np.clip(arr + np.random.default_rng(seed).integers(-8, 9, arr.shape), 0, 255).astype(np.uint8)
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(dst)
    return dst


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(path: Path, w: int = 100_000, h: int = 100_000) -> Path:
    """A PNG whose header claims w x h grey pixels, with a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def json_doc(res) -> dict:
    return json.loads(res.stdout)


# --------------------------------------------------------------------------- bad single files (compare)


@pytest.fixture
def ref(tmp_path: Path) -> Path:
    return png(tmp_path / "ref.png")


def _make_bad(kind: str, tmp_path: Path, ref: Path) -> tuple[Path, str]:
    """Create a bad distorted file; return it and a fragment of the expected reason."""
    p = tmp_path / f"bad_{kind}.png"
    if kind == "missing":
        return p, "no such file"
    if kind == "directory":
        p.mkdir()
        return p, "directory"
    if kind == "empty":
        p.write_bytes(b"")
        return p, "empty file"
    if kind == "truncated":
        data = ref.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return p, "truncated"
    if kind == "text":
        p.write_text("this is not an image\n" * 20)
        return p, "not an image"
    if kind == "unsupported":
        # a valid file in a format iqa does not decode (PDF header), named .png
        p.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 4)
        return p, "unsupported image format (PDF)"
    if kind == "bomb":
        bomb_png(p)
        return p, "too large"
    raise AssertionError(kind)


BAD_KINDS = ["missing", "directory", "empty", "truncated", "text", "unsupported", "bomb"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_distorted_file_compare(kind: str, tmp_path: Path, ref: Path) -> None:
    bad, reason = _make_bad(kind, tmp_path, ref)
    res = invoke("compare", ref, bad, "--format", "json")
    assert_clean(res, 2, str(bad), reason)
    doc = json_doc(res)
    (row,) = doc["pairs"]
    assert row["status"] == "error"
    assert all(v is None for v in (row.get("metrics") or {}).values())


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "truncated", "text", "bomb"])
def test_bad_reference_file_compare(kind: str, tmp_path: Path, ref: Path) -> None:
    good = noisy_copy(ref, tmp_path / "good.png")
    bad, reason = _make_bad(kind, tmp_path, ref)
    res = invoke("compare", bad, good, "--format", "csv")
    if kind == "directory":  # compare refuses a folder as REFERENCE up front
        assert_clean(res, 2, str(bad), "directory")
        return
    assert_clean(res, 2, str(bad), reason)


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_file_in_batch_others_scored(kind: str, tmp_path: Path) -> None:
    rdir, ddir = tmp_path / "ref", tmp_path / "dist"
    for i in range(3):
        r = png(rdir / f"good{i}.png", seed=i)
        noisy_copy(r, ddir / f"good{i}.png", seed=10 + i)
    r = png(rdir / "zbad.png", seed=99)
    if kind == "missing":
        # a dangling symlink with an image extension on the distorted side
        (ddir / "zbad.png").symlink_to(tmp_path / "nowhere.png")
        bad = ddir / "zbad.png"
    else:
        tmp_bad, _ = _make_bad(kind, tmp_path, r)
        bad = ddir / "zbad.png"
        if kind == "directory":
            bad.mkdir()
        else:
            os.replace(tmp_bad, bad)
    res = invoke("batch", rdir, ddir, "--format", "json", "--no-progress")
    out = res.stdout + res.stderr
    assert "Traceback" not in out
    doc = json_doc(res)
    rows = {Path(p["distorted"] or p["reference"]).name: p for p in doc["pairs"]}
    for i in range(3):
        row = rows[f"good{i}.png"]
        assert row["status"] == "ok"
        for c in METRIC_COLS:
            if c == "ms_ssim" or c == "mix":  # 32 px: below 176, null with a reason
                continue
            assert isinstance(row["metrics"][c], (int, float)), (c, row)
    if kind in ("missing", "directory"):
        # not a readable image file: the walk reports it, the pair is missing or an error row
        assert rows["zbad.png"]["status"] in ("error", "missing_distorted"), rows["zbad.png"]
    else:
        assert rows["zbad.png"]["status"] == "error"
        assert_clean(res, 2, str(bad), errors=None)
    assert res.exit_code == 2, res.stderr


def test_max_pixels_option_configurable(tmp_path: Path, ref: Path) -> None:
    dist = noisy_copy(ref, tmp_path / "d.png")
    res = invoke("compare", ref, dist, "--max-pixels", "100", "--format", "json")
    assert_clean(res, 2, "ref.png", "100", errors=None)
    res = invoke("compare", ref, dist, "--max-pixels", str(32 * 32), "--format", "json")
    assert res.exit_code == 0, res.stderr


def test_bomb_refused_before_decoding(tmp_path: Path, ref: Path, monkeypatch) -> None:
    bad = bomb_png(tmp_path / "bomb.png", 50_000, 50_000)
    called = []
    real = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self, *a, **k: called.append(1) or real(self, *a, **k))
    res = invoke("compare", ref, bad, "--format", "json")
    assert_clean(res, 2, str(bad), "refused before decoding")
    assert json_doc(res)["pairs"][0]["status"] == "error"


# --------------------------------------------------------------------------- sizes


def test_smaller_than_ssim_window(tmp_path: Path) -> None:
    a = png(tmp_path / "a.png", 8, 8)
    b = noisy_copy(a, tmp_path / "b.png")
    res = invoke("compare", a, b, "--format", "json")
    assert "Traceback" not in res.stdout + res.stderr
    row = json_doc(res)["pairs"][0]
    assert row["status"] == "ok"
    assert row["metrics"]["ssim"] is None and row["metrics"]["ms_ssim"] is None
    assert isinstance(row["metrics"]["mse"], float) and isinstance(row["metrics"]["psnr"], float)
    assert any("11x11" in w for w in row["warnings"])
    assert res.exit_code in (0, 2)


def test_ms_ssim_below_176_null_with_reason(tmp_path: Path) -> None:
    a = png(tmp_path / "a.png", 64, 80)
    b = noisy_copy(a, tmp_path / "b.png")
    res = invoke("compare", a, b, "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    row = json_doc(res)["pairs"][0]
    assert row["metrics"]["ms_ssim"] is None
    assert any("ms_ssim" in w and "176" in w for w in row["warnings"]), row["warnings"]
    for c in ("ssim", "mse", "psnr", "tv_reference", "tv_distorted"):
        assert isinstance(row["metrics"][c], float), c


def test_size_mismatch_exit_1(tmp_path: Path) -> None:
    a = png(tmp_path / "a.png", 32, 40)
    b = png(tmp_path / "b.png", 32, 41)
    res = invoke("compare", a, b, "--format", "csv")
    msg = assert_clean(res, 1, "size mismatch", "40x32", "41x32")
    assert "b.png" in msg
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows[0]["status"] == "error" and "size mismatch" in rows[0]["error"]


def test_size_mismatch_in_batch(tmp_path: Path) -> None:
    rdir, ddir = tmp_path / "r", tmp_path / "d"
    png(rdir / "a.png", 32, 32)
    noisy_copy(rdir / "a.png", ddir / "a.png")
    png(rdir / "b.png", 32, 32)
    png(ddir / "b.png", 33, 32)
    res = invoke("batch", rdir, ddir, "--format", "json", "--no-progress")
    assert res.exit_code == 1, res.stderr
    rows = {Path(p["distorted"]).name: p for p in json_doc(res)["pairs"]}
    assert rows["a.png"]["status"] == "ok" and rows["a.png"]["metrics"]["ssim"] is not None
    assert rows["b.png"]["status"] == "error" and "size mismatch" in rows["b.png"]["error"]


# --------------------------------------------------------------------------- mixed content


def test_grey_vs_rgb(tmp_path: Path) -> None:
    g = png(tmp_path / "g.png", mode="L")
    arr = np.asarray(Image.open(g))
    Image.fromarray(np.stack([arr] * 3, -1)).save(tmp_path / "c.png")
    res = invoke("compare", g, tmp_path / "c.png", "--format", "json")
    assert res.exit_code == 0, res.stderr
    row = json_doc(res)["pairs"][0]
    assert row["metrics"]["mse"] == 0.0 and row["metrics"]["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert any("grey" in w or "gray" in w for w in row["warnings"]), row["warnings"]


def test_rgb_vs_opaque_rgba_same_score(tmp_path: Path) -> None:
    a = png(tmp_path / "a.png")
    arr = np.asarray(Image.open(a))
    rgba = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a_rgba.png")
    b = noisy_copy(a, tmp_path / "b.png")
    r1 = json_doc(invoke("compare", a, b, "--format", "json"))["pairs"][0]
    res = invoke("compare", tmp_path / "a_rgba.png", b, "--format", "json")
    assert res.exit_code == 0, res.stderr
    r2 = json_doc(res)["pairs"][0]
    for c in ("ssim", "mse", "psnr"):
        assert r1["metrics"][c] == r2["metrics"][c], c


def test_8bit_vs_16bit(tmp_path: Path) -> None:
    a = png(tmp_path / "a.png", mode="L")
    arr8 = np.asarray(Image.open(a))
    arr16 = arr8.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "a16.tif", arr16)
    res = invoke("compare", a, tmp_path / "a16.tif", "--format", "json")
    assert "Traceback" not in res.stdout + res.stderr
    assert res.exit_code == 0, res.stderr
    row = json_doc(res)["pairs"][0]
    # same picture at two bit depths: scaled to a common range, never a raw 0-255 vs 0-65535 comparison
    assert row["metrics"]["ssim"] > 0.999, row
    assert row["warnings"], "bit depth conversion should be noted"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_non_finite(tmp_path: Path, bad: float) -> None:
    a = RNG.random((32, 32)).astype(np.float32)
    tifffile.imwrite(tmp_path / "a.tif", a)
    b = a.copy()
    b[3, 4] = bad
    tifffile.imwrite(tmp_path / "b.tif", b)
    res = invoke("compare", tmp_path / "a.tif", tmp_path / "b.tif", "--format", "json")
    assert_clean(res, 2, "b.tif", "NaN or infinite")


def test_float_outside_unit_range_needs_data_range(tmp_path: Path) -> None:
    a = (RNG.random((32, 32)) * 4).astype(np.float32)
    tifffile.imwrite(tmp_path / "a.tif", a)
    tifffile.imwrite(tmp_path / "b.tif", a * 0.99)
    res = invoke("compare", tmp_path / "a.tif", tmp_path / "b.tif", "--format", "json")
    assert_clean(res, 2, "a.tif", "--data-range", errors=None)
    assert all(p["status"] == "error" for p in json_doc(res)["pairs"])
    res = invoke("compare", tmp_path / "a.tif", tmp_path / "b.tif", "--format", "json", "--data-range", "4")
    assert res.exit_code == 0, res.stderr
    row = json_doc(res)["pairs"][0]
    assert row["data_range"] == 4


def test_float_inside_unit_range_warns(tmp_path: Path) -> None:
    a = RNG.random((32, 32)).astype(np.float32)
    tifffile.imwrite(tmp_path / "a.tif", a)
    tifffile.imwrite(tmp_path / "b.tif", a * 0.99)
    res = invoke("compare", tmp_path / "a.tif", tmp_path / "b.tif", "--format", "json")
    assert res.exit_code == 0, res.stderr
    row = json_doc(res)["pairs"][0]
    assert row["data_range"] == 1
    assert row["warnings"]


def test_animated_gif_is_read_frame_by_frame(tmp_path: Path) -> None:
    """A GIF stored with no frame delays (Pillow's default) against its first frame:
    once compared by the first frame only (mse 0); now the extra frames are a mismatch
    unless --frames says what to score, and a 0 ms delay is timed as browsers show it."""
    frames = [Image.fromarray(RNG.integers(0, 256, (32, 32), dtype=np.uint8)).convert("P") for _ in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "one.gif")
    res = invoke("compare", tmp_path / "one.gif", tmp_path / "anim.gif", "--format", "json")
    assert res.exit_code == 1
    row = json_doc(res)["pairs"][0]
    assert row["status"] == "error" and row["error"].startswith("frame mismatch") and "--frames overlap" in row["error"]
    res = invoke("compare", tmp_path / "one.gif", tmp_path / "anim.gif", "--format", "json", "--frames", "overlap")
    assert res.exit_code == 0, res.stderr
    row = json_doc(res)["pairs"][0]
    assert row["metrics"]["mse"] == 0.0
    assert any("2 frames with a duration of 0 ms: timed at 100 ms" in w for w in row["warnings"]), row["warnings"]
    assert any("2 distorted frames without a reference frame left out" in w for w in row["warnings"]), row["warnings"]


def test_multipage_tiff_first_page(tmp_path: Path) -> None:
    pages = RNG.integers(0, 256, (3, 32, 32), dtype=np.uint8)
    with tifffile.TiffWriter(tmp_path / "multi.tif") as tw:
        for p in pages:
            tw.write(p)
    tifffile.imwrite(tmp_path / "one.tif", pages[0])
    res = invoke("compare", tmp_path / "one.tif", tmp_path / "multi.tif", "--format", "json")
    assert res.exit_code == 0, res.stderr
    row = json_doc(res)["pairs"][0]
    assert row["metrics"]["mse"] == 0.0
    assert any("frame" in w or "page" in w for w in row["warnings"]), row["warnings"]


# --------------------------------------------------------------------------- file system


def test_no_read_permission(tmp_path: Path, ref: Path, monkeypatch) -> None:
    bad = noisy_copy(ref, tmp_path / "locked.png")
    if os.geteuid() != 0:
        bad.chmod(0)
    else:  # root reads everything: simulate the open() failure
        real_open = open

        def fake_open(file, *a, **k):
            if str(file) == str(bad):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *a, **k)

        monkeypatch.setattr("builtins.open", fake_open)
        monkeypatch.setattr(iio, "open", fake_open, raising=False)
    try:
        res = invoke("compare", ref, bad, "--format", "json")
    finally:
        bad.chmod(0o644)
    assert_clean(res, 2, str(bad), "permission denied")


def test_names_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    rdir, ddir = tmp_path / "réf dir", tmp_path / "dist ü"
    names = ["a b.png", "çà é.png", "日本 語.png", "emoji 🙂.png"]
    for i, n in enumerate(names):
        noisy_copy(png(rdir / n, seed=i), ddir / n, seed=i + 5)
    csv_out = tmp_path / "out dir é" / "résultats.csv"
    csv_out.parent.mkdir()
    res = invoke("batch", rdir, ddir, "--csv", csv_out, "--format", "json", "--no-progress")
    assert res.exit_code == 0, res.stderr
    rows = json_doc(res)["pairs"]
    assert sorted(Path(r["distorted"]).name for r in rows) == sorted(names)
    assert all(r["status"] == "ok" for r in rows)
    with open(csv_out, encoding="utf-8", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert sorted(Path(r["distorted"]).name for r in got) == sorted(names)
    # errors name such files verbatim
    bad = ddir / "broken ñ.png"
    bad.write_bytes(b"garbage")
    res = invoke("compare", rdir / names[0], bad)
    assert_clean(res, 2, "broken ñ.png")


def test_symlink_loop_in_batch(tmp_path: Path) -> None:
    rdir, ddir = tmp_path / "r", tmp_path / "d"
    for i in range(2):
        noisy_copy(png(rdir / f"{i}.png", seed=i), ddir / f"{i}.png")
    (ddir / "loop").symlink_to(ddir, target_is_directory=True)
    (ddir / "self.png").symlink_to(ddir / "self.png")  # a link to itself
    res = invoke("batch", rdir, ddir, "--format", "json", "--no-progress")
    assert "Traceback" not in res.stdout + res.stderr
    doc = json_doc(res)
    ok = [p for p in doc["pairs"] if p["status"] == "ok"]
    assert len(ok) == 2 and all(p["metrics"]["ssim"] is not None for p in ok)
    assert "loop" in res.stderr
    assert res.exit_code in (0, 2)


def test_empty_folders_nothing_compared(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "d").mkdir()
    res = invoke("batch", tmp_path / "r", tmp_path / "d", "--format", "json")
    assert_clean(res, 3, "nothing to compare")


def test_batch_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    res = invoke("batch", tmp_path / "r", tmp_path / "nope")
    assert_clean(res, 2, "nope")


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("flag", ["-o", "--csv", "--json"])
def test_unwritable_output_fails_before_computing(tmp_path: Path, ref: Path, flag: str, monkeypatch) -> None:
    dist = noisy_copy(ref, tmp_path / "d.png")
    calls = []
    monkeypatch.setattr(runner, "score_loaded", lambda *a, **k: calls.append(1))
    target = "/nonexistent/dir/x.csv"
    res = invoke("compare", ref, dist, flag, target)
    assert_clean(res, 2, "/nonexistent/dir/x.csv")
    assert calls == [], "scored before failing on the output path"


def test_output_is_a_directory(tmp_path: Path, ref: Path) -> None:
    dist = noisy_copy(ref, tmp_path / "d.png")
    (tmp_path / "outdir").mkdir()
    res = invoke("compare", ref, dist, "--csv", tmp_path / "outdir")
    assert_clean(res, 2, "outdir")


def test_unknown_metric(ref: Path, tmp_path: Path) -> None:
    dist = noisy_copy(ref, tmp_path / "d.png")
    res = invoke("compare", ref, dist, "-m", "ssim,foo")
    out = res.stdout + res.stderr
    assert "Traceback" not in out
    assert res.exit_code == 2
    assert "foo" in res.stderr


def test_malformed_fail_if(ref: Path, tmp_path: Path) -> None:
    if "check" not in main.commands:
        pytest.skip("iqa check is not available yet")
    dist = noisy_copy(ref, tmp_path / "d.png")
    for expr in ("ssim<<0.9", "nonsense", "ssim<", "foo>1"):
        res = invoke("check", ref, dist, "--fail-if", expr)
        out = res.stdout + res.stderr
        assert "Traceback" not in out, (expr, out)
        assert res.exit_code == 2, (expr, res.exit_code, out)
        assert expr.split("<")[0].split(">")[0] in res.stderr or "fail-if" in res.stderr, (expr, res.stderr)


def test_device_cuda_without_cuda(ref: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    dist = noisy_copy(ref, tmp_path / "d.png")
    for spec in ("cuda", "cuda:1"):
        res = invoke("compare", ref, dist, "--device", spec)
        assert_clean(res, 2, f"--device {spec}", "CUDA is not available")
    res = invoke("compare", ref, dist, "--device", "tpu")  # refused by the settings table, before any work
    assert res.exit_code == 2 and "'--device'" in res.output and "expected auto, cpu, cuda or cuda:N, not 'tpu'" in res.output
    res = invoke("compare", ref, dist, "--device", "auto", "--format", "json")
    assert res.exit_code == 0 and json_doc(res)["settings"]["device"] == "cpu"


# --------------------------------------------------------------------------- nothing lost


def _batch_dirs(tmp_path: Path, n: int = 5) -> tuple[Path, Path]:
    rdir, ddir = tmp_path / "r", tmp_path / "d"
    for i in range(n):
        noisy_copy(png(rdir / f"{i:02d}.png", seed=i), ddir / f"{i:02d}.png", seed=50 + i)
    return rdir, ddir


def _interrupt_on(n: int, monkeypatch, exc: BaseException) -> None:
    real = runner.score_loaded
    count = {"n": 0}

    def fake(*a, **k):
        count["n"] += 1
        if count["n"] == n:
            raise exc
        return real(*a, **k)

    monkeypatch.setattr(runner, "score_loaded", fake)


def test_keyboard_interrupt_leaves_no_report(tmp_path: Path, monkeypatch) -> None:
    rdir, ddir = _batch_dirs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    _interrupt_on(3, monkeypatch, KeyboardInterrupt())
    res = invoke("batch", rdir, ddir, "-o", out / "r.json", "--json", out / "x.json", "--no-progress", "-q")
    assert "Traceback" not in res.stdout + res.stderr
    assert res.exit_code == 130, (res.exit_code, res.stderr)
    assert "interrupted after 2 of 5 pairs" in res.stderr
    assert sorted(os.listdir(out)) == [], os.listdir(out)


def test_keyboard_interrupt_keeps_complete_jsonl_lines(tmp_path: Path, monkeypatch) -> None:
    rdir, ddir = _batch_dirs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    _interrupt_on(3, monkeypatch, KeyboardInterrupt())
    res = invoke("batch", rdir, ddir, "-o", out / "r.jsonl", "--csv", out / "r.csv", "--no-progress")
    assert res.exit_code == 130, res.stderr
    assert sorted(os.listdir(out)) == ["r.csv", "r.jsonl"]  # both stream
    text = (out / "r.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = [json.loads(ln) for ln in text.splitlines()]
    assert len(lines) == 3 and lines[0]["type"] == "settings"
    assert all(ln["status"] == "ok" and ln["metrics"]["ssim"] is not None for ln in lines[1:])


def test_os_error_mid_run_one_line_and_no_report(tmp_path: Path, monkeypatch) -> None:
    rdir, ddir = _batch_dirs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    _interrupt_on(3, monkeypatch, OSError(28, "No space left on device", str(out / "scratch")))
    res = invoke("batch", rdir, ddir, "--csv", out / "r.csv", "--json", out / "r.json", "--no-progress", "-q")
    assert_clean(res, 2, "No space left on device", "scratch")
    assert sorted(os.listdir(out)) == ["r.csv"]  # the streamed CSV keeps the 2 finished rows
    assert len(list(csv.DictReader(open(out / "r.csv", encoding="utf-8")))) == 2


def test_unexpected_exception_one_line_debug_traceback(tmp_path: Path, monkeypatch) -> None:
    rdir, ddir = _batch_dirs(tmp_path, 3)
    out = tmp_path / "out"
    out.mkdir()
    _interrupt_on(2, monkeypatch, TypeError("unsupported operand\nsecond line"))
    res = invoke("batch", rdir, ddir, "--csv", out / "r.csv", "--no-progress", "-q")
    assert_clean(res, 2, "internal error: TypeError: unsupported operand", "--debug")
    assert sorted(os.listdir(out)) == ["r.csv"]  # the streamed CSV keeps the finished row
    assert len(list(csv.DictReader(open(out / "r.csv", encoding="utf-8")))) == 1
    _interrupt_on(2, monkeypatch, TypeError("boom"))
    res = CliRunner().invoke(main, [str(a) for a in ("batch", rdir, ddir, "--no-progress", "-q", "--debug")])
    assert isinstance(res.exception, TypeError)  # --debug lets it through (traceback)


def test_quiet_batch_still_explains_exit_code(tmp_path: Path) -> None:
    rdir, ddir = _batch_dirs(tmp_path, 2)
    png(rdir / "only_ref.png")
    res = invoke("batch", rdir, ddir, "-q", "--no-progress")
    assert res.exit_code == 2
    assert "1 of 3 pairs not scored" in res.stderr


def test_atomic_write_failure_keeps_old_file(tmp_path: Path, monkeypatch) -> None:
    rdir, ddir = _batch_dirs(tmp_path, 3)
    target = tmp_path / "r.txt"
    target.write_text("old\n")
    import iqa_cli.report.table as rtable

    def boom(console, *a, **k):
        console.file.write("pair  SSIM\npartial")
        raise KeyboardInterrupt

    monkeypatch.setattr(rtable, "render", boom)
    res = invoke("batch", rdir, ddir, "-o", target, "--no-progress", "-q")
    assert res.exit_code == 130
    assert target.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["d", "r", "r.txt"]


def test_complete_run_writes_all_reports(tmp_path: Path) -> None:
    rdir, ddir = _batch_dirs(tmp_path, 3)
    res = invoke("batch", rdir, ddir, "--csv", tmp_path / "r.csv", "--json", tmp_path / "r.json",
                 "-o", tmp_path / "r.jsonl", "--no-progress", "-q")
    assert res.exit_code == 0, res.stderr
    assert len(list(csv.DictReader(open(tmp_path / "r.csv", encoding="utf-8")))) == 3
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["ok"] == 3
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 5  # settings + 3 pairs + summary


# --------------------------------------------------------------------------- GPU OOM fallback


def test_oom_falls_back_to_cpu(tmp_path: Path, monkeypatch) -> None:
    a = png(tmp_path / "a.png")
    b = noisy_copy(a, tmp_path / "b.png")
    from iqa_cli.pairing import Pair
    from iqa_cli.results import Settings

    settings = Settings(metrics=("ssim", "mse", "psnr"), color="rgb", alpha="premultiplied", downsample="none",
                        data_range=None, bit_depth=None, device="cuda", mix_variant="zhao", mix_alpha=0.84,
                        tv_reduction="mean", below=0.9, pixel_tol=0.0, block=16, max_pixels=None)
    loaded = runner.load_pair(Pair("b.png", a, b), settings)
    cpu_row = runner.score_loaded(loaded, settings, torch.device("cpu"))

    real = runner.score_prepared
    devices = []

    def flaky(prepared, settings, device, **kw):
        devices.append(device.type)
        if device.type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(prepared, settings, device, **kw)

    monkeypatch.setattr(runner, "score_prepared", flaky)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    row = runner.score_loaded(loaded, settings, torch.device("cuda"))
    assert devices == ["cuda", "cpu"]
    assert row.status == "ok"
    assert row.metrics == cpu_row.metrics
    assert any("out of GPU memory" in w for w in row.warnings)


def test_oom_on_cpu_too_is_an_error_row(tmp_path: Path, monkeypatch) -> None:
    a = png(tmp_path / "a.png")
    b = noisy_copy(a, tmp_path / "b.png")
    res_ok = invoke("compare", a, a, b, "--format", "json")
    assert res_ok.exit_code == 0

    real = runner.score_prepared
    calls = {"n": 0}

    def oom(prepared, settings, device, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise MemoryError()
        return real(prepared, settings, device, **kw)

    monkeypatch.setattr(runner, "score_prepared", oom)
    res = invoke("compare", a, a, b, "--format", "json")
    assert "Traceback" not in res.stdout + res.stderr
    assert res.exit_code == 2
    rows = json_doc(res)["pairs"]
    assert rows[0]["status"] == "ok" and rows[1]["status"] == "error"
    assert_clean(res, 2, "b.png", errors=1)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["compare", "a.png", "b.png", "-m", "foo"], "unknown metric 'foo'"),
        (["compare", "a.png", "b.png", "--colr", "y"], "No such option '--colr'"),
        (["batch"], "Missing argument"),
    ],
)
def test_console_entry_usage_errors_are_one_line(capsys, argv, needle):
    """The `iqa` console script (cli.entry) turns click's usage block into one line, exit 2."""
    from iqa_cli.commands import entry

    with pytest.raises(SystemExit) as exc:
        entry(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("iqa: error: ") and needle in lines[0], err
