"""End-to-end tests of the ``iqa`` command line (``shared/spec/cli.md``).

Every test writes real image files into ``tmp_path`` and runs the CLI through
``click.testing.CliRunner`` (stdout and stderr separate); a few run it as a
subprocess (``python -m iqa_cli``, the torch-free ``--help``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from click.testing import CliRunner
from PIL import Image

import iqa_cli
from iqa_cli.commands import main

from conftest import distort, smooth_image, write_png

REPO = Path(__file__).parents[1]
CSV_HEADER = (
    "reference,distorted,status,width,height,channels,ssim,ms_ssim,mse,psnr,"
    "tv_reference,tv_distorted,mix,protocol,crop_border,error,schema"
)
PAIR_KEYS = {"reference", "distorted", "status", "width", "height", "channels", "data_range",
             "metrics", "warnings", "error"}
#: the default metric set's columns (the mixed loss is asked for with -m mix or -m all)
METRIC_KEYS = {"ssim", "ms_ssim", "mse", "psnr", "tv_reference", "tv_distorted"}
H, W = 203, 181  # odd sizes, above MS-SSIM's 176 px


def _no_constants(name: str):
    raise ValueError(f"non-strict JSON constant {name}")


def strict_loads(text: str):
    return json.loads(text, parse_constant=_no_constants)


def iqa(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def iqa_json(*args: str, code: int = 0) -> dict:
    result = iqa(*args, "--json", "--no-progress")
    assert result.exit_code == code, (result.stdout, result.stderr)
    return strict_loads(result.stdout)


def check_schema(doc: dict) -> None:
    assert set(doc) == {"schema", "iqa_version", "settings", "pairs", "summary"}
    assert doc["schema"] == "iqa/2"
    assert doc["iqa_version"] == iqa_cli.__version__ == "0.1.0"
    for key in ("metrics", "color", "alpha", "downsample", "data_range", "device"):
        assert key in doc["settings"]
    for p in doc["pairs"]:
        assert set(p) == PAIR_KEYS
        assert p["status"] in ("ok", "error", "missing_reference", "missing_distorted")
        assert isinstance(p["warnings"], list)
        if p["status"] == "ok":
            assert p["error"] is None
            assert set(p["metrics"]) == METRIC_KEYS | ({"mix"} if "mix" in doc["settings"]["metrics"] else set())
    for key in ("pairs", "ok", "errors", "missing", "metrics"):
        assert key in doc["summary"]


def tensor(arr: np.ndarray) -> torch.Tensor:
    a = arr.astype(np.float64)
    if a.ndim == 2:
        a = a[..., None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def api_metrics(x: torch.Tensor, y: torch.Tensor, L: float, downsample: str = "none") -> dict:
    ms = min(x.shape[-2:]) >= 176
    return {
        "ssim": float(iqa_cli.ssim(x, y, L, downsample=downsample)[0]),
        "ms_ssim": float(iqa_cli.ms_ssim(x, y, L)[0]) if ms else None,
        "mse": float(iqa_cli.mse(x, y)[0]),
        "psnr": float(iqa_cli.psnr(x, y, L)[0]),
        "tv_reference": float(iqa_cli.total_variation(x / L, "l1", "mean")[0]),
        "tv_distorted": float(iqa_cli.total_variation(y / L, "l1", "mean")[0]),
        "mix": float(iqa_cli.mix_loss(x, y, L)[0]),
    }



SH, SW = 37, 45  # small pair for option/exit-code tests


@pytest.fixture
def rgb_pair(png):
    ref = smooth_image(SH, SW, 3, seed=3)
    return png("ref.png", ref), png("dist.png", distort(ref, seed=4)), ref, distort(ref, seed=4)


# ----------------------------------------------------------------- CLI == API


BIG = (397, 385)  # min side >= 384: ssim.m downsamples by 2


@pytest.mark.parametrize(
    "kind,color,downsample,size,metrics",
    [
        ("rgb8", "rgb", "none", (H, W), "all"),
        ("rgb8", "y", "none", (H, W), "all"),
        ("rgb8", "gray", "none", (H, W), "all"),
        ("gray8", "rgb", "none", (H, W), "all"),
        ("rgb16", "rgb", "none", (H, W), "all"),
        ("rgb8", "rgb", "matlab", BIG, "ssim,mse"),
        ("gray8", "rgb", "matlab", BIG, "all"),
    ],
)
def test_json_numbers_equal_library(png, kind, color, downsample, size, metrics):
    h, w = size
    c = 1 if kind == "gray8" else 3
    maxval, dtype = (65535, np.uint16) if kind == "rgb16" else (255, np.uint8)
    ref = smooth_image(h, w, c, seed=5, maxval=maxval, dtype=dtype)
    dist = distort(ref, seed=6, amount=maxval / 25, maxval=maxval)
    r, d = png("r.png", ref), png("d.png", dist)
    doc = iqa_json("compare", r, d, "--color", color, "--downsample", downsample, "-m", metrics)
    check_schema(doc) if metrics == "all" else None
    (pair,) = doc["pairs"]
    assert pair["status"] == "ok" and pair["warnings"] == []
    assert (pair["width"], pair["height"], pair["channels"]) == (w, h, c)
    assert pair["data_range"] == maxval
    assert doc["settings"]["color"] == color and doc["settings"]["downsample"] == downsample

    x, y = tensor(ref), tensor(dist)
    if color == "y":
        x, y = iqa_cli.rgb_to_y_bt601(x, 255.0, round=True), iqa_cli.rgb_to_y_bt601(y, 255.0, round=True)
    elif color == "gray":
        x, y = iqa_cli.rgb_to_gray_matlab(x, round=True), iqa_cli.rgb_to_gray_matlab(y, round=True)
    if metrics == "all":
        expected = api_metrics(x, y, float(maxval), downsample)
    else:
        expected = {"ssim": float(iqa_cli.ssim(x, y, float(maxval), downsample=downsample)[0]),
                    "mse": float(iqa_cli.mse(x, y)[0])}
    assert pair["metrics"] == expected
    assert 0.0 < expected["ssim"] < 1.0 and expected["mse"] > 0
    if downsample == "matlab":  # the option really changes the number at this size
        assert expected["ssim"] != float(iqa_cli.ssim(x, y, float(maxval))[0])


def test_strict_json_and_identical_images(png):
    ref = smooth_image(40, 50, 3, seed=1)
    a, b = png("a.png", ref), png("b.png", ref)
    doc = iqa_json("compare", a, b, "-m", "ssim,ms_ssim,mix", code=2)  # ms_ssim named, 40x50 px: an error row
    m = doc["pairs"][0]["metrics"]
    assert doc["pairs"][0]["status"] == "error" and "ms_ssim not computed" in doc["pairs"][0]["error"]
    assert m["ms_ssim"] is None and m["mix"] == 0.0  # the other values are kept
    doc = iqa_json("compare", a, b, "-m", "all")  # `all`: what is defined here, the rest null with a warning
    assert doc["pairs"][0]["status"] == "ok" and doc["pairs"][0]["metrics"]["ms_ssim"] is None
    assert any(w.startswith("ms_ssim: needs at least 176x176 px") for w in doc["pairs"][0]["warnings"])
    doc = iqa_json("compare", a, b)
    check_schema(doc)
    m = doc["pairs"][0]["metrics"]
    assert m["psnr"] == "inf"
    assert m["ssim"] == 1.0 and m["mse"] == 0.0
    assert m["ms_ssim"] is None  # not asked for by name: a warning only
    assert doc["summary"]["metrics"]["psnr"]["mean"] == "inf"  # every pair identical
    assert doc["summary"]["metrics"]["psnr"]["infinite"] == 1
    assert doc["summary"]["ok"] == 1


# ----------------------------------------------------------------- image semantics


def _rgba_pair(png, hidden_a, hidden_b):
    rgb = smooth_image(48, 60, 3, seed=2)
    alpha = np.full((48, 60), 255, np.uint8)
    alpha[10:30, 5:40] = 0
    a = np.dstack([rgb, alpha])
    b = a.copy()
    a[alpha == 0, :3] = hidden_a
    b[alpha == 0, :3] = hidden_b
    return png("a.png", a), png("b.png", b)


def test_rgba_hidden_colour_ignored_when_premultiplied(png):
    a, b = _rgba_pair(png, (255, 0, 0), (0, 200, 50))
    doc = iqa_json("compare", a, b)
    (pair,) = doc["pairs"]
    assert pair["channels"] == 4
    assert pair["metrics"]["ssim"] == 1.0
    assert pair["metrics"]["mse"] == 0.0
    assert pair["metrics"]["psnr"] == "inf"

    dropped = iqa_json("compare", a, b, "--alpha", "drop")["pairs"][0]
    assert dropped["channels"] == 3
    assert dropped["metrics"]["mse"] > 0 and dropped["metrics"]["ssim"] < 1.0
    assert dropped["metrics"]["psnr"] != "inf"


def test_alpha_only_change_counts(png):
    rgb = smooth_image(48, 60, 3, seed=2)
    a = np.dstack([rgb, np.full((48, 60), 255, np.uint8)])
    b = a.copy()
    b[:10, :10, 3] = 128
    doc = iqa_json("compare", png("a.png", a), png("b.png", b))
    assert doc["pairs"][0]["metrics"]["mse"] > 0


def test_opaque_rgba_scores_like_rgb(png):
    ref = smooth_image(48, 60, 3, seed=8)
    dist = distort(ref)
    opaque = np.full((48, 60, 1), 255, np.uint8)
    plain = iqa_json("compare", png("r.png", ref), png("d.png", dist))["pairs"][0]
    rgba = iqa_json("compare", png("r4.png", np.dstack([ref, opaque])), png("d4.png", dist))["pairs"][0]
    assert rgba["channels"] == 3
    assert rgba["metrics"] == plain["metrics"]


def test_palette_png_expanded(tmp_path, png):
    ref = smooth_image(40, 44, 3, seed=9)
    pal = Image.fromarray(ref).quantize(colors=32)
    pal.save(tmp_path / "pal.png")
    expanded = png("rgb.png", np.asarray(pal.convert("RGB")))
    pair = iqa_json("compare", expanded, tmp_path / "pal.png")["pairs"][0]
    assert pair["status"] == "ok" and pair["channels"] == 3
    assert pair["metrics"]["mse"] == 0.0 and pair["metrics"]["ssim"] == 1.0


def test_small_images_ms_ssim_null_with_warning(png):
    ref = smooth_image(120, 175, 3, seed=1)
    pair = iqa_json("compare", png("a.png", ref), png("b.png", distort(ref)))["pairs"][0]
    assert pair["status"] == "ok"
    assert pair["metrics"]["ms_ssim"] is None
    assert any("ms_ssim" in w and "176" in w for w in pair["warnings"])
    for k in METRIC_KEYS - {"ms_ssim"}:
        assert isinstance(pair["metrics"][k], float), k


def test_grey_vs_colour_replicated_with_warning(png):
    ref = smooth_image(40, 44, 3, seed=1)
    grey = ref[..., 0]
    pair = iqa_json("compare", png("c.png", ref), png("g.png", grey))["pairs"][0]
    assert pair["status"] == "ok" and pair["channels"] == 3
    assert any("greyscale" in w for w in pair["warnings"])


def test_16bit_png_grey_and_rgb(png):
    for c in (1, 3):
        ref = smooth_image(40, 44, c, seed=c, maxval=65535, dtype=np.uint16)
        pair = iqa_json("compare", png(f"r{c}.png", ref), png(f"d{c}.png", distort(ref, amount=800, maxval=65535)))
        p = pair["pairs"][0]
        assert p["data_range"] == 65535 and p["channels"] == c
        assert 0 < p["metrics"]["ssim"] < 1


def test_bit_depth_12_in_16bit_png(png):
    ref = smooth_image(40, 44, 1, seed=2, maxval=4095, dtype=np.uint16)
    dist = distort(ref, amount=60, maxval=4095)
    p = iqa_json("compare", png("r.png", ref), png("d.png", dist), "--bit-depth", "12")["pairs"][0]
    assert p["data_range"] == 4095
    assert p["metrics"]["psnr"] == float(iqa_cli.psnr(tensor(ref), tensor(dist), 4095.0)[0])
    assert iqa_json("compare", png("r.png", ref), png("d.png", dist))["pairs"][0]["data_range"] == 65535


def test_8bit_vs_16bit_same_picture(png):
    ref8 = smooth_image(40, 44, 3, seed=4)
    ref16 = ref8.astype(np.uint16) * 257
    p = iqa_json("compare", png("a.png", ref8), png("b.png", ref16))["pairs"][0]
    assert p["data_range"] == 65535 and p["metrics"]["mse"] == 0.0


def test_jpeg(tmp_path, png):
    ref = smooth_image(64, 72, 3, seed=2)
    Image.fromarray(ref).save(tmp_path / "d.jpg", quality=85)
    p = iqa_json("compare", png("r.png", ref), tmp_path / "d.jpg")["pairs"][0]
    assert p["status"] == "ok" and p["data_range"] == 255
    assert 0.5 < p["metrics"]["ssim"] < 1.0


def test_tiff_16bit(tmp_path):
    ref = smooth_image(40, 44, 3, seed=3, maxval=65535, dtype=np.uint16)
    tifffile.imwrite(tmp_path / "r.tif", ref, photometric="rgb")
    tifffile.imwrite(tmp_path / "d.tif", distort(ref, amount=500, maxval=65535), photometric="rgb")
    p = iqa_json("compare", tmp_path / "r.tif", tmp_path / "d.tif")["pairs"][0]
    assert p["status"] == "ok" and p["data_range"] == 65535 and p["channels"] == 3
    x, y = tensor(ref), tensor(distort(ref, amount=500, maxval=65535))
    assert p["metrics"]["mse"] == float(iqa_cli.mse(x, y)[0])


def test_float_tiff(tmp_path):
    ref = smooth_image(40, 44, 1, seed=3).astype(np.float32) / 255
    dist = np.clip(ref + 0.05, 0, 1).astype(np.float32)
    tifffile.imwrite(tmp_path / "r.tif", ref)
    tifffile.imwrite(tmp_path / "d.tif", dist)
    p = iqa_json("compare", tmp_path / "r.tif", tmp_path / "d.tif")["pairs"][0]
    assert p["status"] == "ok" and p["data_range"] == 1.0
    assert any("assuming 1.0" in w for w in p["warnings"])

    p = iqa_json("compare", tmp_path / "r.tif", tmp_path / "d.tif", "--data-range", "1")["pairs"][0]
    assert p["status"] == "ok" and p["data_range"] == 1.0
    assert not any("assuming" in w for w in p["warnings"])
    assert p["metrics"]["mse"] == float(iqa_cli.mse(tensor(ref), tensor(dist))[0])

    # outside [0, 1]: an error without --data-range, fine with it
    tifffile.imwrite(tmp_path / "r4.tif", ref * 4)
    tifffile.imwrite(tmp_path / "d4.tif", dist * 4)
    result = iqa("compare", tmp_path / "r4.tif", tmp_path / "d4.tif", "--json")
    assert result.exit_code == 2
    assert "r4.tif" in result.stderr and "--data-range" in result.stderr
    p = iqa_json("compare", tmp_path / "r4.tif", tmp_path / "d4.tif", "--data-range", "4")["pairs"][0]
    assert p["status"] == "ok" and p["data_range"] == 4.0


# ----------------------------------------------------------------- output formats


def test_jsonl(png, tmp_path):
    ref = smooth_image(40, 44, 3)
    r = png("r.png", ref)
    d1, d2 = png("d1.png", distort(ref, seed=1)), png("d2.png", distort(ref, seed=2))
    result = iqa("compare", r, d1, d2, tmp_path / "nope.png", "--format", "jsonl")
    assert result.exit_code == 2
    lines = [strict_loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5
    assert [ln["type"] for ln in lines] == ["settings", "pair", "pair", "pair", "summary"]
    assert lines[0]["settings"] == lines[-1]["settings"]
    assert [ln["status"] for ln in lines[1:4]] == ["ok", "ok", "error"]
    assert lines[-1]["summary"]["pairs"] == 3 and lines[-1]["summary"]["errors"] == 1


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_stdout_and_file(png, tmp_path):
    ref = smooth_image(40, 44, 3)
    r, d = png("r.png", ref), png("d.png", distort(ref))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    same = png("same.png", ref)
    result = iqa("compare", r, d, bad, same, "--format", "csv")
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == CSV_HEADER
    rows = _csv_rows(result.stdout)
    assert len(rows) == 4
    assert [row[2] for row in rows[1:]] == ["ok", "error", "ok"]
    assert "bad.png" in rows[2][-2] and rows[2][-1] == "iqa/2"
    assert rows[3][rows[0].index("psnr")] == "inf"

    out = tmp_path / "out.csv"
    result = iqa("compare", r, d, bad, "--csv", out)
    assert result.exit_code == 2
    assert "pair" in result.stdout  # the table is still on stdout
    text = out.read_text()
    assert text.splitlines()[0] == CSV_HEADER
    assert [row[2] for row in _csv_rows(text)[1:]] == ["ok", "error"]
    doc = iqa_json("compare", r, d)
    assert float(_csv_rows(text)[1][rows[0].index("ssim")]) == doc["pairs"][0]["metrics"]["ssim"]


def test_output_file_format_from_extension(png, tmp_path):
    ref = smooth_image(40, 44, 3)
    r, d = png("r.png", ref), png("d.png", distort(ref))
    out = tmp_path / "out.json"
    result = iqa("compare", r, d, "-o", out)
    assert result.exit_code == 0, result.stderr
    check_schema(strict_loads(out.read_text()))
    assert not result.stdout.lstrip().startswith("{")

    out2 = tmp_path / "also.json"
    result = iqa("compare", r, d, "--json", out2)
    assert result.exit_code == 0
    doc = strict_loads(out2.read_text())
    check_schema(doc)
    assert "SSIM" in result.stdout and "settings" in result.stdout  # table on stdout
    assert doc["pairs"][0]["metrics"] == iqa_json("compare", r, d)["pairs"][0]["metrics"]

    out3 = tmp_path / "o.jsonl"
    assert iqa("compare", r, d, "-o", out3).exit_code == 0
    lines = [strict_loads(ln) for ln in out3.read_text().splitlines()]
    assert [ln["type"] for ln in lines] == ["settings", "pair", "summary"]


def test_output_csv_from_extension(rgb_pair, tmp_path):
    r, d, _, _ = rgb_pair
    out = tmp_path / "r.csv"
    result = iqa("compare", r, d, "-o", out, "-q")
    assert result.exit_code == 0 and result.stdout == ""
    rows = _csv_rows(out.read_text())
    assert ",".join(rows[0]) == CSV_HEADER and len(rows) == 2 and rows[1][2] == "ok"


@pytest.mark.parametrize("extra", [(), ("--format", "table")])
def test_output_table_file_is_written(rgb_pair, tmp_path, extra):
    r, d, _, _ = rgb_pair
    out = tmp_path / "report.txt"
    result = iqa("compare", r, d, "-o", out, *extra)
    assert result.exit_code == 0
    assert out.exists() and "SSIM" in out.read_text()


@pytest.mark.parametrize("flag", ["--json", "--csv"])
def test_bare_report_flag_never_overwrites_an_input(png, flag):
    ref = smooth_image(SH, SW, 3, seed=1)
    r, d1, d2 = png("ref.png", ref), png("d1.png", distort(ref, seed=1)), png("d2.png", distort(ref, seed=2))
    before = Path(r).read_bytes()
    result = iqa("compare", flag, r, d1, d2, "-q")
    assert Path(r).read_bytes() == before
    assert result.exit_code == 2


# ----------------------------------------------------------------- batch


def _tree(root: Path, files: dict[str, np.ndarray]) -> None:
    for rel, arr in files.items():
        write_png(root / rel, arr)


def test_batch_nested_with_missing_files(tmp_path):
    imgs = {k: smooth_image(32, 36, 3, seed=i) for i, k in enumerate(["a.png", "sub/b.png", "sub/deep/c.png"])}
    _tree(tmp_path / "ref", {**imgs, "only_ref.png": smooth_image(32, 36, 3, seed=9)})
    _tree(tmp_path / "out", {**{k: distort(v) for k, v in imgs.items()},
                             "sub/only_dist.png": smooth_image(32, 36, 3, seed=10)})
    doc = iqa_json("batch", tmp_path / "ref", tmp_path / "out", code=2)
    check_schema(doc)
    by_status: dict[str, list] = {}
    for p in doc["pairs"]:
        by_status.setdefault(p["status"], []).append(p)
    assert len(by_status["ok"]) == 3
    assert {Path(p["distorted"]).relative_to(tmp_path / "out").as_posix() for p in by_status["ok"]} == set(imgs)
    (mr,) = by_status["missing_reference"]
    (md,) = by_status["missing_distorted"]
    assert mr["reference"] is None and mr["distorted"].endswith("only_dist.png")
    assert md["distorted"] is None and md["reference"].endswith("only_ref.png")
    assert doc["summary"] == {**doc["summary"], "pairs": 5, "ok": 3, "missing": 2, "errors": 0}

    result = iqa("batch", tmp_path / "ref", tmp_path / "out", "--csv", "-")
    assert result.exit_code == 2
    rows = _csv_rows(result.stdout)
    assert ",".join(rows[0]) == CSV_HEADER
    assert sorted(r[2] for r in rows[1:]) == ["missing_distorted", "missing_reference", "ok", "ok", "ok"]


def test_batch_match_stem(tmp_path):
    ref = smooth_image(32, 36, 3, seed=1)
    write_png(tmp_path / "ref" / "a.png", ref)
    (tmp_path / "out").mkdir()
    Image.fromarray(ref).save(tmp_path / "out" / "a.jpg", quality=90)
    doc = iqa_json("batch", tmp_path / "ref", tmp_path / "out", "--match", "stem")
    assert [p["status"] for p in doc["pairs"]] == ["ok"]
    assert doc["pairs"][0]["distorted"].endswith("a.jpg")
    by_path = iqa_json("batch", tmp_path / "ref", tmp_path / "out", code=2)
    assert sorted(p["status"] for p in by_path["pairs"]) == ["missing_distorted", "missing_reference"]


def test_batch_include_exclude(tmp_path):
    files = {k: smooth_image(24, 24, 1, seed=i) for i, k in enumerate(["a.png", "thumbs/t.png", "x/b.png"])}
    _tree(tmp_path / "ref", files)
    _tree(tmp_path / "out", files)
    def names(doc):
        return sorted(Path(p["distorted"]).relative_to(tmp_path / "out").as_posix() for p in doc["pairs"])
    assert names(iqa_json("batch", tmp_path / "ref", tmp_path / "out", "--exclude", "thumbs")) == ["a.png", "x/b.png"]
    assert names(iqa_json("batch", tmp_path / "ref", tmp_path / "out", "--include", "x/**")) == ["x/b.png"]
    result = iqa("batch", tmp_path / "ref", tmp_path / "out", "--include", "*.tif")
    assert result.exit_code == 3


def test_batch_worst_section(tmp_path):
    ref = {f"p{i}.png": smooth_image(24, 28, 3, seed=i) for i in range(4)}
    _tree(tmp_path / "ref", ref)
    _tree(tmp_path / "out", {k: distort(v, amount=3 + 6 * i) for i, (k, v) in enumerate(ref.items())})
    result = iqa("batch", tmp_path / "ref", tmp_path / "out", "--worst", "2", "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"worst 2 by", result.stdout)
    result = iqa("batch", tmp_path / "ref", tmp_path / "out", "--worst", "0")
    assert not re.search(r"worst \d+ by", result.stdout)


def test_batch_empty_folders_exit_3(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    result = iqa("batch", tmp_path / "a", tmp_path / "b")
    assert result.exit_code == 3
    assert "nothing to compare" in result.stderr


def test_batch_unreadable_file_is_an_error_row(tmp_path):
    imgs = {k: smooth_image(24, 24, 3, seed=i) for i, k in enumerate(["a.png", "b.png"])}
    _tree(tmp_path / "ref", imgs)
    _tree(tmp_path / "out", imgs)
    (tmp_path / "out" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    doc = iqa_json("batch", tmp_path / "ref", tmp_path / "out", code=2)
    status = {Path(p["distorted"]).name: p for p in doc["pairs"]}
    assert status["a.png"]["status"] == "ok"
    assert status["b.png"]["status"] == "error" and "b.png" in status["b.png"]["error"]


# ----------------------------------------------------------------- exit codes


def test_exit_0_all_scored(rgb_pair):
    r, d, _, _ = rgb_pair
    result = iqa("compare", r, d, "--quiet")
    assert result.exit_code == 0 and result.stdout == ""


def test_entry_restores_the_garbage_collector(rgb_pair, capsys):
    """entry() defers the cyclic GC during start-up and turns it back on once
    torch is imported, so a long batch still collects."""
    import gc

    from iqa_cli import commands
    from iqa_cli.commands import startup

    r, d, _, _ = rgb_pair
    assert gc.isenabled()
    try:
        with pytest.raises(SystemExit) as e:
            commands.entry(["compare", str(r), str(d), "--quiet"])
        assert e.value.code == 0
        assert gc.isenabled() and not startup._deferred
    finally:
        gc.unfreeze()
        gc.enable()


def test_exit_1_size_mismatch(png, rgb_pair):
    r, _, ref, _ = rgb_pair
    other = png("other.png", ref[:, :-1])
    doc = iqa_json("compare", r, other, code=1)
    (p,) = doc["pairs"]
    assert p["status"] == "error"
    assert p["error"] == f"size mismatch: {SW}x{SH} vs {SW - 1}x{SH}"
    result = iqa("compare", r, other)
    assert result.exit_code == 1
    assert "other.png" in result.stderr and "size mismatch" in result.stderr


def test_exit_2_unreadable_file(tmp_path, rgb_pair):
    r, d, _, _ = rgb_pair
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"hello")
    result = iqa("compare", r, bad, d, "--json")
    assert result.exit_code == 2
    doc = strict_loads(result.stdout)
    assert [p["status"] for p in doc["pairs"]] == ["error", "ok"]
    assert "broken.png" in doc["pairs"][0]["error"]
    assert "broken.png" in result.stderr and "Traceback" not in result.stderr
    result = iqa("compare", r, tmp_path / "missing.png")
    assert result.exit_code == 2 and "missing.png" in result.stderr


def test_exit_2_unknown_metric(rgb_pair):
    r, d, _, _ = rgb_pair
    result = iqa("compare", r, d, "-m", "foo")
    assert result.exit_code == 2
    assert "foo" in result.stderr and result.stdout == ""


def test_metric_selection(rgb_pair):
    r, d, _, _ = rgb_pair
    doc = iqa_json("compare", r, d, "-m", "ssim,psnr")
    assert doc["settings"]["metrics"] == ["ssim", "psnr"]
    assert set(doc["pairs"][0]["metrics"]) == {"ssim", "psnr"}
    result = iqa("compare", r, d, "-m", "ssim", "--format", "csv")
    rows = _csv_rows(result.stdout)
    assert ",".join(rows[0]) == CSV_HEADER
    assert rows[1][rows[0].index("mse")] == "" and rows[1][rows[0].index("ssim")] != ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_exit_2_cuda_unavailable(rgb_pair):
    r, d, _, _ = rgb_pair
    result = iqa("compare", r, d, "--device", "cuda")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cuda" in lines[0].lower()
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_exit_3_nothing_compared(tmp_path):
    result = iqa("batch", tmp_path / "nope1", tmp_path / "nope2")
    assert result.exit_code in (2, 3)  # missing folders: an error, not a crash
    assert "Traceback" not in result.stderr


# ----------------------------------------------------------------- metrics, version, help


def test_metrics_command():
    result = iqa("metrics")
    assert result.exit_code == 0
    for name in ("ssim", "ms_ssim", "mse", "psnr", "tv", "mix"):
        assert name in result.stdout
    result = iqa("metrics", "--format", "json")
    assert result.exit_code == 0
    listed = strict_loads(result.stdout)
    assert [m["name"] for m in listed] == list(iqa_cli.METRICS)
    assert {"ssim", "ms_ssim", "mse", "psnr", "tv", "mix"} <= {m["name"] for m in listed}
    for m in listed:
        assert m["direction"] and m["definition"]


def test_version():
    result = iqa("--version")
    assert result.exit_code == 0
    assert "0.1.0" in result.stdout


def test_python_m_help():
    out = subprocess.run([sys.executable, "-m", "iqa_cli", "--help"], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "compare" in out.stdout and "batch" in out.stdout


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from iqa_cli.commands import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'\n"
        "main(['compare', '--help'], standalone_mode=False)\n"
        "assert 'torch' not in sys.modules, 'torch imported by compare --help'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr


# ----------------------------------------------------------------- the bundled sample


def test_bundled_sample_batch():
    ref, dist = REPO / "sample_images" / "reference", REPO / "sample_images" / "distorted"
    doc = iqa_json("batch", ref, dist)
    check_schema(doc)
    assert len(doc["pairs"]) == 7
    assert all(p["status"] == "ok" for p in doc["pairs"]), [p["error"] for p in doc["pairs"]]
    assert doc["summary"]["ok"] == 7
    for p in doc["pairs"]:
        assert all(not (isinstance(v, float) and math.isnan(v)) for v in p["metrics"].values())
