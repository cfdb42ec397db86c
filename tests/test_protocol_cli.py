"""--protocol and --crop-border through the command line: the CLI gives the
protocol functions' numbers bit for bit, records the convention everywhere,
and `compare --protocol all` shows one row per protocol."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from iqa_cli.commands import main
from iqa_cli.metrics.protocols import PROTOCOLS, protocol_mse, protocol_psnr, protocol_ssim


def _images(tmp_path: Path, shape=(197, 203, 3), bits=8):
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    base = 120 + 60 * np.sin(x / 9.0) * np.cos(y / 13.0)
    ref = np.stack([base + 10 * c for c in range(shape[2])], -1) if len(shape) == 3 else base
    top = 255 if bits == 8 else 65535
    ref = np.clip(ref * (top / 255), 0, top)
    dist = np.clip(ref + rng.normal(0, 6 * top / 255, ref.shape), 0, top)
    dt = np.uint8 if bits == 8 else np.uint16
    ref, dist = ref.round().astype(dt), dist.round().astype(dt)
    a, b = tmp_path / "gt" / "img.png", tmp_path / "sr" / "img.png"
    a.parent.mkdir()
    b.parent.mkdir()
    Image.fromarray(ref).save(a)
    Image.fromarray(dist).save(b)
    return a, b, ref, dist


def _t(a: np.ndarray) -> torch.Tensor:
    a = a if a.ndim == 3 else a[..., None]
    return torch.from_numpy(a.astype(np.float64)).permute(2, 0, 1)[None]


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


@pytest.mark.parametrize("protocol", ["wang", "basicsr", "pyiqa", "skimage", "tf", "piq"])
@pytest.mark.parametrize("crop", [0, 4])
def test_batch_gives_the_protocol_functions_numbers(tmp_path, protocol, crop):
    a, b, ref, dist = _images(tmp_path)
    color = "y" if protocol in ("basicsr", "pyiqa", "wang") else "rgb"
    res = run("batch", a.parent, b.parent, "--protocol", protocol, "--color", color, "--crop-border", crop,
              "-m", "ssim,mse,psnr", "--json", "-", "--no-progress")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["settings"]["protocol"] == protocol and doc["settings"]["crop_border"] == crop
    m = doc["pairs"][0]["metrics"]
    x, y = _t(ref), _t(dist)
    kw = dict(protocol=protocol, color=color, crop_border=crop, integer=True)
    assert m["ssim"] == pytest.approx(float(protocol_ssim(x, y, 255, **kw)[0]), abs=1e-12)
    assert m["psnr"] == pytest.approx(float(protocol_psnr(x, y, 255, **kw)[0]), abs=1e-9)
    assert m["mse"] == pytest.approx(float(protocol_mse(x, y, 255, **kw)[0]), rel=1e-12)


def test_crop_border_equals_scoring_the_crop(tmp_path):
    a, b, ref, dist = _images(tmp_path)
    full = json.loads(run("compare", a, b, "--crop-border", 4, "--json", "-").stdout)["pairs"][0]["metrics"]
    ca, cb = tmp_path / "ca.png", tmp_path / "cb.png"
    Image.fromarray(ref[4:-4, 4:-4]).save(ca)
    Image.fromarray(dist[4:-4, 4:-4]).save(cb)
    crop = json.loads(run("compare", ca, cb, "--json", "-").stdout)["pairs"][0]["metrics"]
    for k in ("ssim", "ms_ssim", "mse", "psnr", "tv_reference", "tv_distorted"):
        assert full[k] == crop[k], k


def test_grey_image_stays_grey_under_y_and_gray(tmp_path):
    a, b, _, _ = _images(tmp_path, shape=(64, 70))
    rgb = json.loads(run("compare", a, b, "--json", "-").stdout)["pairs"][0]["metrics"]
    for color in ("y", "gray"):
        m = json.loads(run("compare", a, b, "--color", color, "--json", "-").stdout)["pairs"][0]["metrics"]
        assert m["psnr"] == rgb["psnr"] and m["ssim"] == rgb["ssim"], color


def test_protocol_recorded_in_csv_and_table(tmp_path):
    a, b, _, _ = _images(tmp_path)
    res = run("compare", a, b, "--protocol", "pyiqa", "--crop-border", "2", "--csv", "-")
    (row,) = list(csv.DictReader(io.StringIO(res.stdout)))
    assert row["protocol"] == "pyiqa" and row["crop_border"] == "2"
    table = run("compare", a, b, "--protocol", "pyiqa", "--crop-border", "2").stdout
    assert "protocol pyiqa" in table and "crop 2 px" in table


def test_compare_protocol_all_one_row_each(tmp_path):
    a, b, _, _ = _images(tmp_path)
    res = run("compare", "--protocol", "all", a, b, "--json", "-")
    assert res.exit_code == 0, res.output
    docs = json.loads(res.stdout)["protocols"]
    assert [d["settings"]["protocol"] for d in docs] == list(PROTOCOLS)
    ssims = {d["settings"]["protocol"]: d["pairs"][0]["metrics"]["ssim"] for d in docs}
    assert ssims["skimage"] != ssims["wang"]  # a 7x7 window and sample covariance
    table = run("compare", "--protocol", "all", a, b).stdout
    assert all(name in table for name in PROTOCOLS)


def test_unknown_protocol_is_one_line(tmp_path):
    a, b, _, _ = _images(tmp_path)
    res = run("compare", a, b, "--protocol", "nope")
    assert res.exit_code == 2 and "unknown protocol" in res.output and "basicsr" in res.output


def test_metric_a_protocol_lacks_is_null_or_an_error(tmp_path):
    a, b, _, _ = _images(tmp_path)
    m = json.loads(run("compare", a, b, "--protocol", "basicsr", "--json", "-").stdout)["pairs"][0]
    assert m["status"] == "ok" and m["metrics"]["ms_ssim"] is None
    assert any("defines no ms_ssim" in w for w in m["warnings"])
    res = run("compare", a, b, "--protocol", "basicsr", "-m", "ms_ssim")
    assert res.exit_code == 2


def test_protocols_command_lists_every_definition():
    res = run("protocols", "--format", "json")
    assert res.exit_code == 0
    listed = json.loads(res.stdout)
    assert [p["name"] for p in listed] == list(PROTOCOLS)
    for p in listed:
        assert p["checked_against"] and p["window"] and p["negatives"] and "ssim" in p["min_size"]


def test_api_protocol_and_crop():
    import iqa_cli

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, (1, 3, 40, 44)).astype(np.float64))
    y = (x + torch.from_numpy(rng.normal(0, 5, x.shape))).clamp(0, 255)
    assert torch.equal(iqa_cli.ssim(x, y, 255, crop_border=3), iqa_cli.ssim(x[..., 3:-3, 3:-3], y[..., 3:-3, 3:-3], 255))
    assert torch.equal(iqa_cli.psnr(x, y, 255, protocol="basicsr"), protocol_psnr(x, y, 255, protocol="basicsr"))
    assert float(iqa_cli.ssim(x, y, 255, protocol="skimage")) != float(iqa_cli.ssim(x, y, 255))
