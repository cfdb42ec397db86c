"""Ignore regions and masks through the command line (check, compare, batch, config)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from iqa_cli.commands import main


def write(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], env={"CI": ""})


def page(h: int = 200, w: int = 300, channels: int = 3) -> np.ndarray:
    """A rendered page with a clock in the top-right corner (x 230-289, y 8-27)."""
    rng = np.random.default_rng(5)
    a = np.full((h, w, channels), 240, np.uint8)
    a[40:180, 20:280] = 255
    for r in range(50, 170, 12):
        for c in range(30, 270, 7):
            if rng.random() < 0.7:
                a[r:r + 7, c:c + 4, :3] = 25
    a[8:28, 230:290, :3] = 30  # the clock's digits block
    a[12:24, 234:286:6, :3] = 220
    return a


def clock_changed(a: np.ndarray, dx: int = 0) -> np.ndarray:
    b = a.copy()
    b[12:24, 236 + dx:288 + dx:6, :3] = 220  # other digits
    b[12:24, 234 + dx:286 + dx:6, :3] = 30
    return b


CLOCK = "230,8,60,20"


def test_clock_changed_passes_with_ignore_and_fails_without(tmp_path):
    a = page()
    b, o = write(tmp_path / "b" / "p.png", a), write(tmp_path / "o" / "p.png", clock_changed(a))
    without = run("check", b.parent, o.parent)
    assert without.exit_code == 1, without.output
    with_ignore = run("check", b.parent, o.parent, "--ignore", CLOCK)
    assert with_ignore.exit_code == 0, with_ignore.output


def test_change_one_pixel_outside_the_region_fails(tmp_path):
    a = page()
    moved = a.copy()
    moved[10, 229] = 0  # one pixel just left of the region (x 230..289)
    b, o = write(tmp_path / "b" / "p.png", a), write(tmp_path / "o" / "p.png", moved)
    exact = ("--tolerance", "0", "--fail-if", "diff_pixels>0", "--ignore", CLOCK)
    assert run("check", b.parent, o.parent, *exact).exit_code == 1
    inside = a.copy()
    inside[10, 230] = 0  # the first pixel of the region
    write(o.parent / "p.png", inside)
    assert run("check", b.parent, o.parent, *exact).exit_code == 0


@pytest.mark.parametrize("size, channels", [((97, 131), 3), ((96, 130), 1), ((101, 120), 4)])
def test_border_frame_equals_the_crop(tmp_path, size, channels):
    """A frame of b pixels ignored gives exactly the values of the cropped images."""
    h, w = size
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:h, 0:w]
    base = (120 + 80 * np.sin(x / 7.0) * np.cos(y / 9.0))[..., None].repeat(channels, -1)
    if channels == 4:
        base[..., 3] = 255
        base[30:50, 30:60, 3] = 128  # some transparency: alpha takes part as a channel
    a = np.clip(base, 0, 255).astype(np.uint8)
    d = np.clip(a + rng.normal(0, 9, a.shape) * (np.arange(channels) < 3), 0, 255).astype(np.uint8)
    sq = (lambda z: z[..., 0]) if channels == 1 else (lambda z: z)
    r, s = write(tmp_path / "r.png", sq(a)), write(tmp_path / "d.png", sq(d))
    bb = 6
    frame = [f"0,0,{w},{bb}", f"0,{h - bb},{w},{bb}", f"0,0,{bb},{h}", f"{w - bb},0,{bb},{h}"]
    args = [a for f in frame for a in ("--ignore", f)]
    m = json.loads(run("compare", r, s, "-m", "ssim,mse,psnr,ssim_min,diff_pixels", *args, "--json", "-").stdout)
    cr, cs = write(tmp_path / "cr.png", sq(a)[bb:-bb, bb:-bb]), write(tmp_path / "cd.png", sq(d)[bb:-bb, bb:-bb])
    c = json.loads(run("compare", cr, cs, "-m", "ssim,mse,psnr,ssim_min,diff_pixels", "--json", "-").stdout)
    got, want = m["pairs"][0]["metrics"], c["pairs"][0]["metrics"]
    for k in ("ssim", "mse", "psnr", "ssim_min"):
        assert got[k] == pytest.approx(want[k], abs=1e-12), k
    assert got["diff_pixels"] == want["diff_pixels"]
    assert m["settings"]["ignore"][0] == [0, 0, w, bb]
    assert any("ignore mask" in w_ and "windows" in w_ for w_ in m["pairs"][0]["warnings"])


def test_mask_file_and_folder(tmp_path):
    a = page()
    r, d = write(tmp_path / "r" / "p.png", a), write(tmp_path / "d" / "p.png", clock_changed(a))
    mask = np.zeros(a.shape[:2], np.uint8)
    mask[8:28, 230:290] = 255
    mfile = write(tmp_path / "masks" / "p.png", mask)
    assert run("check", r.parent, d.parent, "--mask", mfile).exit_code == 0
    assert run("check", r.parent, d.parent, "--mask", mfile.parent).exit_code == 0  # by relative path
    wrong = write(tmp_path / "wrong.png", mask[:-1])
    res = run("compare", r, d, "--mask", wrong, "--json", "-")
    assert res.exit_code == 2
    err = json.loads(res.stdout)["pairs"][0]["error"]
    assert "wrong.png" in err and "300x199" in err and "300x200" in err


def test_region_outside_the_image_is_an_error_row(tmp_path):
    a = page()
    r, d = write(tmp_path / "r.png", a), write(tmp_path / "d.png", a[:, ::-1].copy())
    res = run("compare", r, d, "--ignore", "290,0,20,10", "--json", "-")
    assert res.exit_code == 2
    assert "outside" in json.loads(res.stdout)["pairs"][0]["error"]
    bad = run("compare", r, d, "--ignore", "1,2,3")
    assert bad.exit_code == 2 and "--ignore" in bad.output


def test_config_override_ignores_per_glob(tmp_path, monkeypatch):
    a = page()
    for side, arr in (("b", a), ("o", clock_changed(a))):
        write(tmp_path / side / "ui" / "home.png", arr)
        write(tmp_path / side / "other.png", arr)
    monkeypatch.chdir(tmp_path)
    Path("iqa.toml").write_text(f'[[check.overrides]]\nglob = "ui/**"\nignore = [[{CLOCK}]]\n')
    res = run("check", "b", "o", "--json", "-")
    rows = {p["key"]: p["status"] for p in json.loads(res.stdout)["check"]["pairs"]}
    assert rows == {"ui/home.png": "PASS", "other.png": "FAIL"}


def test_heatmap_shows_the_mask_hatched(tmp_path):
    a = page()
    b, o = write(tmp_path / "b" / "p.png", a), write(tmp_path / "o" / "p.png", clock_changed(page()[::-1].copy()))
    res = run("check", b.parent, o.parent, "--ignore", CLOCK, "--save-diffs", tmp_path / "d")
    assert res.exit_code == 1
    heat = np.asarray(Image.open(tmp_path / "d" / "p.ssim.png"))
    region = heat[8:28, 230:290].reshape(-1, 3)
    assert (region == 150).all(axis=1).any()  # the hatch stripes
