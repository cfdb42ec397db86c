"""The gate never lies: each item of the "trust" issue, tried with real files."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from scipy.ndimage import gaussian_filter

from iqa_cli.commands import main

RNG = np.random.default_rng(7)


def write(path: Path, arr: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def run(*args, env=None):
    env = {"CI": "", "GITHUB_STEP_SUMMARY": "", **(env or {})}
    return CliRunner().invoke(main, [*map(str, args)], env=env)


def check(b, o, *args, env=None):
    return run("check", "--no-progress", b, o, *args, env=env)


def ui_page(n: int = 256) -> np.ndarray:
    """A UI-like render: header bar, white panel with text strokes, a button."""
    rng = np.random.default_rng(1)
    a = np.full((n, n, 3), 245, np.uint8)
    a[10:30, :] = (40, 60, 120)
    a[50:200, 20:236] = 255
    for r in range(60, 190, 14):
        for c in range(30, 220, 8):
            if rng.random() < 0.7:
                a[r:r + 8, c:c + 5] = 30
    a[210:240, 160:230] = (30, 120, 200)
    return a


def noisy(a: np.ndarray, k: int) -> np.ndarray:
    return np.clip(a.astype(int) + RNG.integers(-k, k + 1, a.shape), 0, 255).astype(np.uint8)


def pair(tmp_path, ref, dist, name="p.png"):
    b, o = tmp_path / "baseline", tmp_path / "output"
    write(b / name, ref)
    write(o / name, dist)
    return b, o


# --------------------------------------------------------------------------- 1. identical files


@pytest.mark.parametrize("shape", [(8, 8, 4), (1, 320, 3), (5, 3)])
def test_identical_small_files_always_pass(tmp_path, shape):
    a = RNG.integers(0, 256, shape, dtype=np.uint8)
    b, o = pair(tmp_path, a, a, "fav.png")
    res = check(b, o)
    assert res.exit_code == 0, res.output
    assert "PASS" in res.output
    res = check(b, o, "--update")  # nothing to rewrite, and the next run still passes
    assert res.exit_code == 0 and "UPDATED: 0 replaced, 0 added, 0 removed; 0 pairs had failed" in res.output
    assert check(b, o).exit_code == 0


# --------------------------------------------------------------------------- 3. tolerant defaults


def _cases():
    flat = np.full((256, 256, 3), 200, np.uint8)
    ui = ui_page()
    moved = ui.copy()
    moved[210:240, 160:230] = 245
    moved[210:240, 162:232] = ui[210:240, 160:230]
    block = ui.copy()
    block[100:116, 100:116] = 128
    blur = np.clip(gaussian_filter(ui.astype(float), (1, 1, 0)), 0, 255).round().astype(np.uint8)
    return {
        "flat ±1": (flat, noisy(flat, 1), 0), "flat ±2": (flat, noisy(flat, 2), 0),
        "ui ±1": (ui, noisy(ui, 1), 0), "ui ±2": (ui, noisy(ui, 2), 0),
        "ui 16x16 change": (ui, block, 1), "ui button moved 2 px": (ui, moved, 1),
        "ui blur sigma 1": (ui, blur, 1), "ui shift +8": (ui, np.clip(ui.astype(int) + 8, 0, 255).astype(np.uint8), 1),
        "flat shift +8": (flat, flat + 8, 1),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_default_gates_pass_noise_and_fail_real_changes(tmp_path, case):
    ref, dist, code = _cases()[case]
    b, o = pair(tmp_path, ref, dist)
    res = check(b, o)
    assert res.exit_code == code, (case, res.output)


def test_tolerance_zero_sees_one_lsb(tmp_path):
    flat = np.full((64, 64, 3), 200, np.uint8)
    b, o = pair(tmp_path, flat, noisy(flat, 1))
    assert check(b, o, "--tolerance", "0").exit_code == 1  # ±1 on a flat page: SSIM 0.989 < 0.99
    doc = json.loads(check(b, o, "--json", "-").stdout)
    assert doc["settings"]["tolerance"] == 2.0


# --------------------------------------------------------------------------- 2. safe --update


def _suite(tmp_path):
    b, o = tmp_path / "baseline", tmp_path / "output"
    for name in ("a.png", "text/b.png", "text/c.png"):
        write(b / name, ui_page(64))
        write(o / name, ui_page(64))
    return b, o


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_update_refuses_a_sub_folder_as_output(tmp_path):
    b, o = _suite(tmp_path)
    write(o / "text" / "b.png", np.zeros((64, 64, 3), np.uint8))
    before = _snapshot(b)
    res = check(b, o / "text", "--update")
    assert res.exit_code == 2
    assert "update refused: 3 baseline(s) have no output" in res.stderr and "--prune" in res.stderr
    assert "UPDATE REFUSED (nothing changed); FAIL:" in res.stdout and "MISSING" in res.stdout  # what it saw
    assert _snapshot(b) == before


def test_update_refuses_when_a_folder_cannot_be_read(tmp_path, monkeypatch):
    b, o = _suite(tmp_path)
    real = os.scandir
    hidden = str(o / "text")

    def scandir(path="."):
        if os.fspath(path) == hidden:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    before = _snapshot(b)
    res = check(b, o, "--update", "--prune")
    assert res.exit_code == 2 and "could not be read" in res.stderr and "text" in res.stderr
    assert _snapshot(b) == before


def test_update_creates_the_baseline_and_keeps_stem_formats(tmp_path):
    b, o = tmp_path / "baseline", tmp_path / "output"
    write(o / "logo.webp", ui_page(64), lossless=True)
    res = check(b, o, "--update")  # a new suite: the baseline folder does not exist yet
    assert res.exit_code == 0, res.output
    assert (b / "logo.webp").read_bytes() == (o / "logo.webp").read_bytes()
    write(b / "logo.png", ui_page(64))
    (b / "logo.webp").unlink()
    write(o / "logo.webp", np.zeros((64, 64, 3), np.uint8), lossless=True)
    res = check(b, o, "--match", "stem", "--update")
    assert res.exit_code == 0, res.output
    assert sorted(_snapshot(b)) == ["logo.webp"]  # the new format's name; the old file removed
    assert "UPDATED: 1 replaced, 0 added, 0 removed; 1 pair had failed" in res.output


# --------------------------------------------------------------------------- 4. honest exit codes


def test_metric_asked_for_and_not_computed_is_an_error(tmp_path):
    a = RNG.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    r, d = write(tmp_path / "a.png", a), write(tmp_path / "b.png", noisy(a, 20))
    res = run("compare", r, d, "-m", "ssim", "--csv", "-")
    assert res.exit_code == 2
    (row,) = list(csv.DictReader(io.StringIO(res.stdout)))
    assert row["status"] == "error" and "ssim not computed: needs at least 11x11 px" in row["error"]
    assert "ssim not computed" in res.stderr


def test_one_pixel_high_image_keeps_mse_and_psnr(tmp_path):
    a = RNG.integers(0, 256, (1, 320, 3), dtype=np.uint8)
    r, d = write(tmp_path / "a.png", a), write(tmp_path / "b.png", noisy(a, 20))
    doc = json.loads(run("compare", r, d, "--json", "-").stdout)  # default set: warnings, exit 0
    p = doc["pairs"][0]
    assert p["status"] == "ok" and p["metrics"]["mse"] > 0 and p["metrics"]["ssim"] is None
    assert any(w.startswith("tv: ") for w in p["warnings"])
    res = run("compare", r, d, "-m", "mse,psnr,tv", "--json", "-")
    assert res.exit_code == 2
    p = json.loads(res.stdout)["pairs"][0]
    assert p["status"] == "error" and "tv not computed" in p["error"] and p["metrics"]["psnr"] > 0


def test_check_gate_on_uncomputable_metric_is_an_error(tmp_path):
    ref = ui_page(100)
    b, o = pair(tmp_path, ref, noisy(ref, 30))
    res = check(b, o, "--fail-if", "ms_ssim<0.9")
    assert res.exit_code == 2 and "ms_ssim not computed" in res.output


# --------------------------------------------------------------------------- 7, 8, 10


def test_empty_fail_if_in_config_is_an_error(tmp_path, monkeypatch):
    b, o = _suite(tmp_path)
    monkeypatch.chdir(tmp_path)
    Path("iqa.toml").write_text("[check]\nfail_if = []\n")
    res = check(b, o)
    assert res.exit_code == 2 and "fail_if is empty" in res.output


def test_save_diffs_names_are_unique(tmp_path):
    b, o = tmp_path / "b", tmp_path / "o"
    for name in ("a.png", "a.bmp"):
        write(b / name, ui_page(64))
        write(o / name, np.zeros((64, 64, 3), np.uint8))
    res = check(b, o, "--save-diffs", tmp_path / "d")
    assert res.exit_code == 1
    assert len([n for n in os.listdir(tmp_path / "d") if n.endswith(".diff.png")]) == 2


def test_ambiguous_stem_leftover_is_an_error_row(tmp_path):
    b, o = tmp_path / "b", tmp_path / "o"
    write(b / "a.png", ui_page(64))
    write(o / "a.png", ui_page(64))
    write(o / "a.bmp", ui_page(64))
    res = check(b, o, "--match", "stem", "--json", "-")
    doc = json.loads(res.stdout)
    rows = {p["key"]: p for p in doc["check"]["pairs"]}
    assert rows["a"]["status"] == "PASS" and rows["a.bmp"]["status"] == "ERROR"
    assert res.exit_code == 2


def test_compare_unreadable_distorted_is_an_error_row(tmp_path):
    a = ui_page(64)
    r, ok = write(tmp_path / "a.png", a), write(tmp_path / "ok.png", a)
    (tmp_path / "dir.png").mkdir()
    res = run("compare", r, ok, tmp_path / "dir.png", tmp_path / "missing.png", "--json", "-")
    assert res.exit_code == 2
    statuses = [p["status"] for p in json.loads(res.stdout)["pairs"]]
    assert statuses == ["ok", "error", "error"]


def test_include_matching_nothing_says_so(tmp_path):
    b, o = _suite(tmp_path)
    res = run("batch", b, o, "--include", "*.jpg")
    assert res.exit_code == 3 and "matches --include '*.jpg'" in res.stderr


def test_github_annotation_points_at_the_baseline(tmp_path):
    b, o = pair(tmp_path, ui_page(64), np.zeros((64, 64, 3), np.uint8))
    res = check(b, o, "--github")
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("::error "))
    assert f"file={b / 'p.png'}" in line


def test_gate_values_and_margins_share_the_metric_format(tmp_path):
    ref = ui_page(64)
    b, o = pair(tmp_path, ref, noisy(ref, 40))
    doc = json.loads(check(b, o, "--json", "-").stdout)
    (row,) = doc["check"]["pairs"]
    for g in row["gates"]:
        assert g["margin"] == round(g["margin"], 12)  # no float noise such as 0.010000000000000009
    import re

    failing = check(b, o, "--fail-if", "ssim_min<0.999").output
    assert re.search(r"ssim_min 0\.\d{6} < 0\.999", failing)
    passing = check(b, o, "--fail-if", "ssim<0.01", "--no-progress").output  # a passing row shows its tightest gate
    assert "PASS" in passing
    assert re.search(r"0\.\d{6}\s", passing) and re.search(r"\+0\.\d{6}", passing)
