"""Property tests (hypothesis): metric bounds, symmetry and ideal values over
random shapes, dtypes, channel counts and value ranges; and the loader, which
either decodes a file or raises :class:`IqaError`, never anything else.

Kept small (shapes up to ~40 px, 25–40 examples each) so the module runs in a
few seconds; MS-SSIM needs 176 px and gets its own few examples.
"""

from __future__ import annotations

import io
import math
import os
import tempfile

import numpy as np
import pytest
import tifffile
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from iqa_cli import IqaError, load_image, mix_loss, ms_ssim, mse, psnr, ssim, total_variation

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)

DTYPES = {
    "uint8": (np.uint8, 255.0),
    "uint16": (np.uint16, 65535.0),
    "float32": (np.float32, 1.0),
    "float64": (np.float64, 1.0),
}


@st.composite
def image_pairs(draw, min_side: int = 11, max_side: int = 32, max_batch: int = 2, max_channels: int = 4):
    """Two (N, C, H, W) tensors of one dtype, plus their data range.

    Values: full range, a narrow band (flat-ish images), constant images, or
    y = x + small noise, so the interesting corners (SSIM near ±1, MSE = 0)
    are hit.
    """
    dtype_name = draw(st.sampled_from(sorted(DTYPES)))
    np_dtype, full = DTYPES[dtype_name]
    if dtype_name.startswith("float"):
        full = draw(st.sampled_from([1.0, 255.0, 1000.0]))
    n = draw(st.integers(1, max_batch))
    c = draw(st.integers(1, max_channels))
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["random", "narrow", "constant", "near", "inverted"]))
    rng = np.random.default_rng(seed)
    shape = (n, c, h, w)

    def sample(lo: float, hi: float) -> np.ndarray:
        a = rng.uniform(lo, hi, shape)
        return a

    if kind == "random":
        x, y = sample(0, full), sample(0, full)
    elif kind == "narrow":
        lo = rng.uniform(0, full * 0.9)
        x, y = sample(lo, lo + full * 0.05), sample(lo, lo + full * 0.05)
    elif kind == "constant":
        x = np.full(shape, rng.uniform(0, full))
        y = np.full(shape, rng.uniform(0, full)) if rng.random() < 0.5 else sample(0, full)
    elif kind == "near":
        x = sample(0, full)
        y = np.clip(x + rng.normal(0, full * 0.01, shape), 0, full)
    else:
        x = sample(0, full)
        y = full - x
    if np.issubdtype(np_dtype, np.integer):
        x, y = np.rint(x), np.rint(y)
    x, y = x.astype(np_dtype), y.astype(np_dtype)
    return torch.from_numpy(x), torch.from_numpy(y), float(full)


def _f(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy()


# --------------------------------------------------------------------------- SSIM


@FAST
@given(image_pairs())
def test_ssim_bounds_and_symmetry(pair) -> None:
    x, y, L = pair
    a, b = _f(ssim(x, y, L)), _f(ssim(y, x, L))
    assert a.shape == (x.shape[0],)
    assert np.all(np.isfinite(a))
    assert np.all(a <= 1 + 1e-12) and np.all(a >= -1 - 1e-12), a
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@FAST
@given(image_pairs(max_side=24, max_batch=1))
def test_identical_inputs_give_ideal_values(pair) -> None:
    x, _, L = pair
    np.testing.assert_allclose(_f(ssim(x, x, L)), 1.0, rtol=0, atol=1e-12)
    assert np.all(_f(mse(x, x)) == 0.0)
    assert np.all(np.isposinf(_f(psnr(x, x, L))))
    tv_ref, tv_dist = _f(total_variation(x.clone())), _f(total_variation(x))
    np.testing.assert_array_equal(tv_ref, tv_dist)
    np.testing.assert_allclose(_f(mix_loss(x, x, L, 0.84, "ssim-l1")), 0.0, rtol=0, atol=1e-12)


def test_mix_zhao_identical_is_zero() -> None:
    x = torch.rand(1, 3, 40, 36, dtype=torch.float64)
    np.testing.assert_allclose(_f(mix_loss(x, x, 1.0, 0.84, "zhao")), 0.0, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- MSE / PSNR


@FAST
@given(image_pairs())
def test_mse_psnr_properties(pair) -> None:
    x, y, L = pair
    m_xy, m_yx = _f(mse(x, y)), _f(mse(y, x))
    assert np.all(m_xy >= 0)
    np.testing.assert_array_equal(m_xy, m_yx)
    p_xy, p_yx = _f(psnr(x, y, L)), _f(psnr(y, x, L))
    np.testing.assert_array_equal(p_xy, p_yx)
    same = np.array([torch.equal(x[i], y[i]) for i in range(x.shape[0])])
    # PSNR is +inf exactly when the images are identical
    assert np.array_equal(np.isposinf(p_xy), same), (p_xy, same)
    assert not np.any(np.isnan(p_xy))
    # and matches its definition where finite
    finite = ~same
    np.testing.assert_allclose(p_xy[finite], 10 * np.log10(L**2 / m_xy[finite]), rtol=1e-5)


@FAST
@given(image_pairs(), st.sampled_from(["sum", "mean"]))
def test_tv_nonnegative_and_scale(pair, reduction) -> None:
    x, _, L = pair
    tv = _f(total_variation(x, "l1", reduction))
    assert np.all(tv >= 0) and np.all(np.isfinite(tv))


@FAST
@given(image_pairs(max_side=24, max_batch=1), st.floats(0, 1))
def test_mix_loss_bounds(pair, alpha) -> None:
    x, y, L = pair
    v = _f(mix_loss(x, y, L, alpha, "ssim-l1"))
    assert np.all(v >= -1e-12) and np.all(v <= 1 + 1e-12), v


# --------------------------------------------------------------------------- MS-SSIM (176 px minimum)


@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(image_pairs(min_side=176, max_side=180, max_batch=1, max_channels=1))
def test_ms_ssim_symmetry_and_identity(pair) -> None:
    x, y, L = pair
    # one call: rows (x, y), (y, x) and (x, x)
    v = _f(ms_ssim(torch.cat([x, y, x]), torch.cat([y, x, x]), L))
    a, b, ident = v
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, equal_nan=True)
    if not np.isnan(a):
        assert -1 - 1e-12 <= a <= 1 + 1e-12
    np.testing.assert_allclose(ident, 1.0, rtol=0, atol=1e-12)


def test_ms_ssim_below_176_refused() -> None:
    x = torch.rand(1, 1, 64, 200, dtype=torch.float64)
    with pytest.raises(ValueError, match="176"):
        ms_ssim(x, x, 1.0)


# --------------------------------------------------------------------------- loader


def _write(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def _load_bytes(data: bytes, suffix: str = ".png", **kw):
    path = _write(data, suffix)
    try:
        return load_image(path, **kw)
    finally:
        os.unlink(path)


@st.composite
def valid_images(draw):
    fmt = draw(st.sampled_from(["png8", "png16", "tiff8", "tiff16", "tiff_f32", "bmp", "gif"]))
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if fmt in ("png8", "bmp", "gif"):
        mode = draw(st.sampled_from(["L", "RGB", "RGBA"] if fmt == "png8" else ["L", "RGB"]))
        shape = (h, w) if mode == "L" else (h, w, len(mode))
        arr = rng.integers(0, 256, shape, dtype=np.uint8)
        if fmt == "gif":
            arr = arr if mode == "L" else arr[..., 0]
            im = Image.fromarray(arr, "L")
        else:
            im = Image.fromarray(arr, mode)
        buf = io.BytesIO()
        im.save(buf, {"png8": "PNG", "bmp": "BMP", "gif": "GIF"}[fmt])
        return buf.getvalue(), "." + {"png8": "png", "bmp": "bmp", "gif": "gif"}[fmt], arr
    if fmt == "png16":
        arr = rng.integers(0, 65536, (h, w), dtype=np.uint16)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "PNG")
        return buf.getvalue(), ".png", arr
    ch = draw(st.sampled_from([None, 3]))
    shape = (h, w) if ch is None else (h, w, ch)
    if fmt == "tiff8":
        arr = rng.integers(0, 256, shape, dtype=np.uint8)
    elif fmt == "tiff16":
        arr = rng.integers(0, 65536, shape, dtype=np.uint16)
    else:
        arr = rng.random(shape).astype(np.float32)
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric="rgb" if ch else "minisblack")
    return buf.getvalue(), ".tif", arr


def _pixels_hwc(img) -> np.ndarray:
    p = np.asarray(img.pixels)
    return p


@settings(max_examples=40, deadline=None, derandomize=True)
@given(valid_images())
def test_loader_round_trips_valid_images(case) -> None:
    data, suffix, arr = case
    img = _load_bytes(data, suffix)
    p = _pixels_hwc(img)
    expect = arr if arr.ndim == 3 else arr[..., None]
    # the loader's layout: (H, W, C) or (C, H, W); compare whichever matches
    if p.shape != expect.shape and p.ndim == 3 and p.shape == (expect.shape[2],) + expect.shape[:2]:
        p = np.moveaxis(p, 0, -1)
    if p.ndim == 2:
        p = p[..., None]
    if suffix == ".gif" and p.shape[-1] == 3 and expect.shape[-1] == 1:
        # palette images are expanded to RGB; a grey palette gives three equal channels
        assert np.array_equal(p[..., :1], p[..., 1:2]) and np.array_equal(p[..., :1], p[..., 2:])
        p = p[..., :1]
    assert p.shape == expect.shape, (p.shape, expect.shape)
    np.testing.assert_array_equal(p, expect)
    assert p.dtype == expect.dtype


def _valid_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


VALID_PNG = _valid_png()


def _load_or_iqa_error(data: bytes, suffix: str) -> None:
    try:
        _load_bytes(data, suffix, max_pixels=1 << 20)
    except IqaError as e:
        msg = str(e)
        assert "\n" not in msg and msg, repr(msg)
    # any other exception type propagates and fails the test


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.binary(max_size=512), st.sampled_from([".png", ".tif", ".jpg", ".gif", ".bmp", ".webp"]))
@example(b"", ".png")
@example(b"\x89PNG\r\n\x1a\n", ".png")
@example(b"II*\x00", ".tif")
@example(b"MM\x00*\x00\x00\x00\x08", ".tif")
@example(b"GIF89a", ".gif")
def test_loader_random_bytes(data: bytes, suffix: str) -> None:
    _load_or_iqa_error(data, suffix)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(0, len(VALID_PNG)), st.binary(max_size=8), st.integers(0, len(VALID_PNG) - 1))
def test_loader_truncated_and_corrupted_png(cut: int, junk: bytes, pos: int) -> None:
    _load_or_iqa_error(VALID_PNG[:cut], ".png")
    corrupted = VALID_PNG[:pos] + junk + VALID_PNG[pos + len(junk):]
    _load_or_iqa_error(corrupted, ".png")


@settings(max_examples=30, deadline=None, derandomize=True)
@given(valid_images(), st.data())
def test_loader_truncated_any_format(case, data) -> None:
    raw, suffix, _ = case
    cut = data.draw(st.integers(0, max(0, len(raw) - 1)))
    _load_or_iqa_error(raw[:cut], suffix)
