"""``iqa check``: gates, folder semantics, --update, config, reports (real PNG folders)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from iqa_cli.commands import main
from iqa_cli.errors import UsageError
from iqa_cli.gate.gates import parse_gate

from conftest import render


def write(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, arr)
    return path


def run(args, env=None):
    env = {"CI": "", "GITHUB_STEP_SUMMARY": "", **(env or {})}
    return CliRunner().invoke(main, ["check", "--no-progress", *map(str, args)], env=env)


@pytest.fixture
def small(tmp_path):
    """baseline/ and output/ with identical 64x64 renders."""
    b, o = tmp_path / "baseline", tmp_path / "output"
    for name in ("a.png", "sub/b.png"):
        write(b / name, render(64))
        write(o / name, render(64))
    return b, o


def change(arr: np.ndarray, delta: int = 60) -> np.ndarray:
    out = arr.copy()
    out[20:36, 20:36] = np.clip(out[20:36, 20:36].astype(int) + delta, 0, 255).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- the headline case


def test_local_change_on_1024_fails_local_gates_with_mean_ssim_above_099(tmp_path):
    b, o = tmp_path / "baseline", tmp_path / "output"
    img = render(1024)
    write(b / "same.png", img)
    o.mkdir()
    shutil.copy(b / "same.png", o / "same.png")
    changed = img.copy()
    changed[600:620, 400:420] = (250, 250, 250)  # a 20x20 patch
    write(b / "patch.png", img)
    write(o / "patch.png", changed)
    res = run([b, o, "--fail-if", "ssim<0.99", "--fail-if", "ssim_min<0.95", "--fail-if", "diff_pixels>0",
               "--json", tmp_path / "r.json", "--junit", tmp_path / "j.xml", "--html", tmp_path / "rep"])
    assert res.exit_code == 1, res.output
    assert "FAIL: 1 of 2 pairs failed: patch.png" in res.output
    doc = json.loads((tmp_path / "r.json").read_text())
    rows = {p["key"]: p for p in doc["check"]["pairs"]}
    patch = {g["metric"]: g for g in rows["patch.png"]["gates"]}
    assert patch["ssim"]["value"] > 0.99 and patch["ssim"]["passed"]
    assert patch["ssim"]["margin"] == pytest.approx(patch["ssim"]["value"] - 0.99)
    assert patch["ssim_min"]["value"] < 0.95 and not patch["ssim_min"]["passed"]
    assert patch["ssim_min"]["margin"] == pytest.approx(patch["ssim_min"]["value"] - 0.95)
    assert patch["diff_pixels"]["value"] == 400 and patch["diff_pixels"]["margin"] == -400
    assert rows["patch.png"]["where"].startswith("changed x 400-419, y 600-619")
    assert rows["same.png"]["status"] == "PASS"

    # JUnit: one testcase per pair, failure text with value/threshold/margin
    suite = ET.parse(tmp_path / "j.xml").getroot()
    cases = suite.findall(".//testcase")
    assert sorted(c.get("name") for c in cases) == ["patch.png", "same.png"]
    fail = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in fail] == ["patch.png"]
    msg = fail[0].find("failure").get("message")
    assert "ssim_min" in msg and "<0.95" in msg and "margin -" in msg and "diff_pixels 400" in msg

    # HTML: one self-contained file, every <img> a data URI, passing pairs collapsed
    files = os.listdir(tmp_path / "rep")
    assert files == ["index.html"]
    html = (tmp_path / "rep" / "index.html").read_text()
    srcs = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    base64.b64decode(srcs[2].split(",", 1)[1], validate=True)
    assert "http://" not in html and "https://" not in html
    assert "<details>" in html and html.index("patch.png") < html.index("<details>") < html.rindex("same.png")
    assert len(html) < 3_000_000


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="no chromium")
def test_html_loads_in_headless_chromium(tmp_path, small):
    b, o = small
    write(o / "a.png", change(render(64)))
    run([b, o, "--html", tmp_path / "rep"])
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    out = subprocess.run([exe, "--headless", "--disable-gpu", "--no-sandbox", "--dump-dom",
                          (tmp_path / "rep" / "index.html").as_uri()], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "a.png" in out.stdout and "data:image/png;base64," in out.stdout


# --------------------------------------------------------------------------- basics


def test_unchanged_renders_pass(small):
    b, o = small
    res = run([b, o])
    assert res.exit_code == 0, res.output
    assert "PASS: all 2 pairs within the gates" in res.output
    assert "ssim<0.99" in res.output  # tightest gate shown with its margin


def test_files_and_size_mismatch(tmp_path):
    a = write(tmp_path / "a.png", render(64))
    b = write(tmp_path / "b.png", render(64))
    assert run([a, b]).exit_code == 0
    c = write(tmp_path / "c.png", render(64)[:, :60])
    res = run([a, c])
    assert res.exit_code == 1 and "size mismatch" in res.output


def test_nothing_to_compare(tmp_path):
    (tmp_path / "b").mkdir(), (tmp_path / "o").mkdir()
    assert run([tmp_path / "b", tmp_path / "o"]).exit_code == 3


# --------------------------------------------------------------------------- missing / new


def test_missing_output_is_a_regression(small):
    b, o = small
    (o / "a.png").unlink()
    res = run([b, o])
    assert res.exit_code == 1 and "MISSING" in res.output


def test_new_output_outside_and_inside_ci(small):
    b, o = small
    write(o / "new.png", render(64, 1))
    res = run([b, o])
    assert res.exit_code == 0 and "NEW" in res.output and "1 new" in res.output
    res = run([b, o], env={"CI": "true"})
    assert res.exit_code == 1 and "new.png" in res.output
    assert run([b, o, "--allow-new"], env={"CI": "true"}).exit_code == 0


def test_update_round_trip(small):
    b, o = small
    write(o / "a.png", change(render(64)))  # failing
    write(o / "new.png", render(64, 2))  # new
    (o / "sub" / "b.png").unlink()  # vanished
    assert run([b, o], env={"CI": "true"}).exit_code == 1
    before = {p: p.read_bytes() for p in b.rglob("*.png")}
    res = run([b, o, "--update"], env={"CI": "true"})  # a baseline without output: refused, nothing changed
    assert res.exit_code == 2 and "--prune" in res.stderr and "sub/b.png" in res.stderr
    assert {p: p.read_bytes() for p in b.rglob("*.png")} == before
    res = run([b, o, "--update", "--prune"], env={"CI": "true"})
    assert res.exit_code == 0, res.output
    assert "UPDATED: 1 replaced, 1 added, 1 removed; 3 pairs had failed" in res.output
    assert f"replaced {b / 'a.png'}" in res.output and f"added {b / 'new.png'}" in res.output
    assert f"removed {b / 'sub' / 'b.png'}" in res.output
    assert (b / "a.png").read_bytes() == (o / "a.png").read_bytes()
    assert (b / "new.png").read_bytes() == (o / "new.png").read_bytes()
    assert not (b / "sub" / "b.png").exists()
    res = run([b, o], env={"CI": "true"})
    assert res.exit_code == 0, res.output


# --------------------------------------------------------------------------- gates and config


@pytest.mark.parametrize("expr, words", [
    ("ssim=0.9", ["ssim=0.9", "METRIC OP VALUE"]),
    ("ssim", ["ssim", "METRIC OP VALUE"]),
    ("foo<1", ["foo<1", "unknown metric"]),
    ("ssim>0.9", ["ssim>0.9", "higher-is-better", "ssim<0.9"]),
    ("diff_pixels<5", ["lower-is-better", "diff_pixels>5"]),
    ("diff_ratio>5", ["outside the range", "0.1%"]),
])
def test_malformed_gate_is_one_line_exit_2(small, expr, words):
    b, o = small
    res = run([b, o, "--fail-if", expr])
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("iqa: error:")
    for w in words:
        assert w in err


def test_gate_parsing_units_and_margins():
    g = parse_gate("diff_ratio>0.1%")
    assert g.metric == "diff_ratio" and g.threshold == pytest.approx(0.001)
    g = parse_gate("ms-ssim <= 0.98")
    assert g.metric == "ms_ssim" and g.fails(0.98) and not g.fails(0.981)
    assert g.margin(0.99) == pytest.approx(0.01)
    g = parse_gate("diff_pixels>0")
    assert g.fails(1) and not g.fails(0) and g.margin(3) == -3
    assert parse_gate("psnr<40dB").threshold == 40
    with pytest.raises(UsageError):
        parse_gate("tv>1")


def test_exact_gate_zero_means_exact(small):
    b, o = small
    arr = render(64)
    arr[0, 0, 0] ^= 1  # one LSB in one pixel
    write(o / "a.png", arr)
    assert run([b, o]).exit_code == 0  # default gates tolerate it
    assert run([b, o, "--fail-if", "diff_pixels>0"]).exit_code == 0  # within the default 2-level tolerance
    res = run([b, o, "--fail-if", "diff_pixels>0", "--tolerance", "0"])  # pixel-exact
    assert res.exit_code == 1 and "diff_pixels" in res.output


def test_config_precedence_and_unknown_key(small, tmp_path, monkeypatch):
    b, o = small
    arr = render(64)
    arr[10:20, 10:20] = np.clip(arr[10:20, 10:20].astype(int) + 2, 0, 255)  # small, faint change
    write(o / "a.png", arr)
    monkeypatch.chdir(tmp_path)
    Path("pyproject.toml").write_text('[project]\nname="x"\n[tool.iqa.check]\nfail_if = ["diff_pixels>0"]\n'
                                      "pixel_tol = 20\ntolerance = 0\n")
    assert run([b, o]).exit_code == 0  # config: tolerance 20 absorbs the +2 change
    assert run([b, o, "--pixel-tol", "0"]).exit_code == 1  # command line beats config
    assert run([b, o, "--pixel-tol", "0", "--fail-if", "ssim<0.5"]).exit_code == 0
    Path("iqa.toml").write_text('[check]\nfail_if = "diff_pixels>0"\ntolerance = 0\n')  # iqa.toml wins over pyproject
    assert run([b, o]).exit_code == 1
    assert run([b, o, "--no-config"]).exit_code == 0  # defaults tolerate the faint change
    Path("iqa.toml").write_text('[check]\nfail_iff = ["ssim<0.9"]\n')
    res = run([b, o])
    assert res.exit_code == 2 and "fail_iff" in res.stderr and "iqa.toml" in res.stderr
    Path("iqa.toml").write_text('[check]\npixel_tol = "lots"\n')
    res = run([b, o])
    assert res.exit_code == 2 and "pixel_tol" in res.stderr


def test_per_glob_override(small, tmp_path):
    b, o = small
    write(o / "a.png", change(render(64), 20))
    write(o / "sub" / "b.png", change(render(64), 20))
    cfg = tmp_path / "gates.toml"
    cfg.write_text('[check]\nfail_if = ["diff_pixels>0"]\n[[check.overrides]]\nglob = "sub/**"\n'
                   'fail_if = ["ssim<0.5"]\n')
    res = run([b, o, "--config", cfg, "--json", tmp_path / "r.json"])
    assert res.exit_code == 1
    rows = {p["key"]: p for p in json.loads((tmp_path / "r.json").read_text())["check"]["pairs"]}
    assert rows["a.png"]["status"] == "FAIL" and rows["sub/b.png"]["status"] == "PASS"
    assert [g["gate"] for g in rows["sub/b.png"]["gates"]] == ["ssim<0.5"]


def test_github_annotations_and_summary(small, tmp_path):
    b, o = small
    write(o / "a.png", change(render(64)))
    summary = tmp_path / "summary.md"
    res = run([b, o, "--github", "--save-diffs", tmp_path / "d"], env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code == 1
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("::error ")]
    assert len(lines) == 1 and "file=" in lines[0] and "ssim_min" in lines[0] and "margin" in lines[0]
    text = summary.read_text()
    assert "### iqa check" in text and "`a.png`" in text and "ssim_min<0.95" in text
    assert sorted(os.listdir(tmp_path / "d")) == ["a.diff.png", "a.ssim.png"]
    assert iio.imread(tmp_path / "d" / "a.ssim.png").shape == (64, 64, 3)


def test_failing_pair_is_decoded_once_per_run(small, tmp_path, monkeypatch):
    """Reports draw failing pairs from the arrays the runner decoded: each file of
    a failing pair (and the baseline of a missing output) is decoded exactly once,
    with --html and --save-diffs both on."""
    import collections

    import iqa_cli.io.load as load

    b, o = small
    write(o / "a.png", change(render(64)))
    write(b / "gone.png", render(64, seed=3))  # its output is missing: the HTML shows the baseline
    decodes: collections.Counter = collections.Counter()
    real = load.read_pillow

    def counting(fh, *args, **kw):
        decodes[os.path.basename(fh.name)] += 1
        return real(fh, *args, **kw)

    monkeypatch.setattr(load, "read_pillow", counting)
    res = run([b, o, "--html", tmp_path / "h", "--save-diffs", tmp_path / "d"])
    assert res.exit_code == 1, res.output
    assert decodes["a.png"] == 2  # baseline a.png and output a.png, once each
    assert decodes["gone.png"] == 1
    html = (tmp_path / "h" / "index.html").read_text()
    assert html.count("data:image/png;base64,") >= 5  # a.png: 4 pictures; gone.png: its baseline
