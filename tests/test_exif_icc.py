"""EXIF orientation (warned, or applied with --exif-transpose) and ICC profiles (a pair warning when they differ)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms, ImageOps

from iqa_cli.commands import main
from iqa_cli.errors import SizeMismatchError
from iqa_cli.gate.config import CONFIG_KEYS
from iqa_cli.io import load_image, prepare_pair
from iqa_cli.results import Settings

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _picture(h: int = 40, w: int = 56) -> np.ndarray:
    """Asymmetric content, so every one of the 8 orientations gives other pixels."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x * y) % 256], axis=-1).astype(np.uint8)
    a[2:9, 3:20] = (250, 10, 10)
    return a


def _save(path, arr, orientation=None, icc=None, **kw):
    extra = dict(kw)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        extra["exif"] = exif
    if icc is not None:
        extra["icc_profile"] = icc
    Image.fromarray(arr).save(path, **extra)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_transpose_matches_pillow(tmp_path, orientation, ext):
    path = _save(tmp_path / f"o{orientation}.{ext}", _picture(), orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    img = load_image(path, exif_transpose=True)
    np.testing.assert_array_equal(img.pixels, expected)
    assert img.orientation is None and not any("EXIF" in w for w in img.warnings)
    stored = load_image(path)
    np.testing.assert_array_equal(stored.pixels, np.asarray(Image.open(path).convert("RGB")))
    if orientation == 1:
        assert stored.orientation is None and stored.warnings == []
    else:
        assert stored.orientation == orientation
        expected_note = (f"EXIF orientation {orientation} ({_WORDS[orientation]}) ignored: pixels compared "
                         "as stored; exif_transpose applies it")
        assert [w for w in stored.warnings if "EXIF" in w] == [expected_note]


_WORDS = {2: "mirror horizontally", 3: "rotate 180°", 4: "mirror vertically", 5: "mirror and rotate 270°",
          6: "rotate 90°", 7: "mirror and rotate 90°", 8: "rotate 270°"}


@pytest.mark.parametrize("orientation", [5, 6, 8])
def test_transpose_16_bit(tmp_path, orientation):
    grey = (_picture()[..., 0].astype(np.uint16) * 257 + 3).astype(np.uint16)
    path = tmp_path / "g16.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    im = Image.fromarray(grey)
    assert im.mode == "I;16"
    im.save(path, exif=exif)
    img = load_image(path, exif_transpose=True)
    assert img.pixels.dtype == np.uint16 and img.data_range == 65535
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(img.pixels[..., 0], expected)
    assert img.pixels.shape[:2] == grey.shape[::-1]


def test_icc_profiles(tmp_path):
    a = _picture()
    plain = load_image(_save(tmp_path / "plain.png", a))
    srgb = load_image(_save(tmp_path / "srgb.png", a, icc=SRGB))
    srgb_jpg = load_image(_save(tmp_path / "srgb.jpg", a, icc=SRGB, quality=95))
    other = load_image(_save(tmp_path / "other.png", a, icc=SRGB[:-4] + b"\x00\x01\x02\x03"))
    assert srgb.icc_profile == SRGB == srgb_jpg.icc_profile
    note = "ICC profiles differ: colours compared as stored, not colour-managed"
    assert note in prepare_pair(plain, srgb).warnings  # one has one, the other not
    assert note in prepare_pair(srgb, other).warnings  # other bytes
    assert note not in prepare_pair(srgb, srgb_jpg).warnings  # the same profile: nothing to say
    assert note not in prepare_pair(plain, plain).warnings


def test_swapped_size_gets_the_hint(tmp_path):
    a = _picture()
    ref = load_image(_save(tmp_path / "ref.png", a))
    rot = load_image(_save(tmp_path / "rot.jpg", np.rot90(a, 1).copy(), 6, quality=95))
    with pytest.raises(SizeMismatchError) as e:
        prepare_pair(ref, rot)
    assert e.value.reason == "size mismatch: 56x40 vs 40x56 (EXIF orientation 6: try exif_transpose)"
    plain = load_image(_save(tmp_path / "plain.png", np.rot90(a, 1).copy()))
    with pytest.raises(SizeMismatchError) as e:  # swapped, but no tag: no hint
        prepare_pair(ref, plain)
    assert e.value.reason == "size mismatch: 56x40 vs 40x56"


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_rotated_jpeg_against_its_png(tmp_path):
    y, x = np.mgrid[0:256, 0:320]
    a = np.stack([x * 255 // 319, y * 255 // 255, 128 + 0 * x], axis=-1).astype(np.uint8)
    a[40:120, 30:200] = (200, 60, 30)
    ref = _save(tmp_path / "photo.png", a)
    jpg = _save(tmp_path / "photo.jpg", np.rot90(a, 1).copy(), 6, quality=95)  # displays as `a`

    without = _cli("compare", ref, jpg, "-m", "ssim", "--json", "-")
    doc = json.loads(without.stdout)
    assert doc["pairs"][0]["error"] == "size mismatch: 320x256 vs 256x320 (EXIF orientation 6: try --exif-transpose)"
    assert doc["settings"]["exif_transpose"] is False

    with_ = _cli("compare", ref, jpg, "-m", "ssim", "--exif-transpose", "--json", "-")
    assert with_.exit_code == 0
    doc = json.loads(with_.stdout)
    assert doc["pairs"][0]["metrics"]["ssim"] > 0.95
    assert doc["settings"]["exif_transpose"] is True
    assert not any("EXIF" in w for w in doc["pairs"][0]["warnings"])


def test_same_size_orientation_warns_on_the_pair(tmp_path):
    a = _picture(40, 40)
    ref = _save(tmp_path / "a.png", a)
    dist = _save(tmp_path / "b.jpg", a, 3, quality=95)
    doc = json.loads(_cli("compare", ref, dist, "-m", "ssim", "--json", "-").stdout)
    assert ("distorted: EXIF orientation 3 (rotate 180°) ignored: pixels compared as stored; "
            "--exif-transpose applies it") in doc["pairs"][0]["warnings"]


def test_setting_is_a_check_config_key(tmp_path, monkeypatch):
    assert "exif_transpose" in CONFIG_KEYS and Settings().exif_transpose is False
    a = _picture()
    (tmp_path / "base").mkdir()
    (tmp_path / "out").mkdir()
    _save(tmp_path / "base" / "p.png", a)
    _save(tmp_path / "out" / "p.png", np.rot90(a, 1).copy(), 6)
    (tmp_path / "iqa.toml").write_text("[check]\nexif_transpose = true\n")
    monkeypatch.chdir(tmp_path)
    r = _cli("check", "base", "out", "--no-progress", "--json", "-")
    doc = json.loads(r.stdout)
    assert doc["settings"]["exif_transpose"] is True and doc["check"]["pairs"][0]["status"] == "PASS"
