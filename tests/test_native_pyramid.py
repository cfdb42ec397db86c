"""MS-SSIM's one-pass-per-scale C path (``_cpu.ms_ssim_terms``): every scale's
mean SSIM and cs against the independent numpy reference of tests/oracles.py
and against the torch path, and the decimation the SSIM pass writes for the
next scale (float64 means, or exact integer sums for integer images)."""

from __future__ import annotations


import numpy as np
import pytest
import torch

import iqa_cli
from iqa_cli.metrics import _cpu
from iqa_cli.metrics._filters import gaussian_window, matlab_box_decimate

import oracles as O

pytestmark = pytest.mark.native  # skipped without the C extension; an error under CI=true (conftest)


def _pair(shape, seed, dtype=np.uint8, top=255):
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    base = (0.5 + 0.4 * np.sin(xx / 9.0 + np.arange(c)[:, None, None]) * np.cos(yy / 13.0)) * top
    x = np.clip(np.round(base[None] + rng.normal(0, top * 0.05, (n, c, h, w))), 0, top)
    y = np.clip(np.round(x + rng.normal(0, top * 0.08, x.shape)), 0, top)
    return x.astype(dtype), y.astype(dtype)


SHAPES = [(1, 1, 176, 176), (1, 3, 181, 203), (2, 1, 200, 177), (1, 2, 257, 190)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["uint8", "uint16", "float32", "float64"])
def test_every_scale_matches_the_numpy_reference(shape, kind):
    top = 65535 if kind == "uint16" else 255
    x, y = _pair(shape, seed=sum(shape), dtype=np.uint16 if kind == "uint16" else np.uint8, top=top)
    L = float(top)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    if kind.startswith("float"):
        xt, yt, L = xt.to(getattr(torch, kind)) / top, yt.to(getattr(torch, kind)) / top, 1.0
    win = gaussian_window()
    mean_s, mean_cs = _cpu.ms_ssim_terms(xt, yt, L, win, 0.01, 0.03, 5)
    assert mean_s.dtype == torch.float64 and mean_s.shape == shape[:2] + (5,)
    for i in range(shape[0]):
        for ch in range(shape[1]):
            a, b = xt[i, ch].double().numpy(), yt[i, ch].double().numpy()
            ref_s, ref_cs = O.msssim_scales(a, b, L)
            assert np.abs(mean_s[i, ch].numpy() - ref_s).max() <= 1e-12
            assert np.abs(mean_cs[i, ch].numpy() - ref_cs).max() <= 1e-12
    got = iqa_cli.ms_ssim(xt, yt, L)
    ref = [np.mean([O.msssim(xt[i, ch].double().numpy(), yt[i, ch].double().numpy(), L)
                    for ch in range(shape[1])]) for i in range(shape[0])]
    assert np.abs(got.numpy() - ref).max() <= 1e-12


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float64])
def test_ms_ssim_matches_the_torch_path(monkeypatch, dtype):
    x, y = (torch.from_numpy(a) for a in _pair((2, 3, 301, 283), seed=5))
    L = 255.0
    if dtype == torch.float64:
        x, y, L = x.double() / 255, y.double() / 255, 1.0
    native = iqa_cli.ms_ssim(x, y, L)
    monkeypatch.setenv("IQA_NATIVE", "0")
    ref = iqa_cli.ms_ssim(x, y, L)
    assert (native - ref).abs().max() <= 1e-13


@pytest.mark.parametrize("hw", [(40, 40), (41, 37), (23, 64), (11, 12)])
def test_float_decimation_in_the_pass_is_matlab_box_decimate(hw):
    """float64 on [0, 1]: the decimated planes are _filters.matlab_box_decimate's, bit for bit,
    whatever the strips (each strip writes the rows it owns)."""
    x, y = (torch.from_numpy(a.astype(np.float64) / 255) for a in _pair((1, 1) + hw, seed=hw[0]))
    g = gaussian_window().numpy()
    h, w = hw
    ho = h - 10
    want_x = matlab_box_decimate(x, 2)[0, 0].numpy()
    want_y = matlab_box_decimate(y, 2)[0, 0].numpy()
    xp, yp = x[0, 0].numpy(), y[0, 0].numpy()
    for step in (2, 4, ho + (ho & 1)):
        dx, dy = np.full(want_x.shape, np.nan), np.full(want_y.shape, np.nan)
        for r0 in range(0, ho, step):
            _cpu._native.ssim_sums(xp, yp, 1.0, g, 2e-4, 18e-4, r0, min(r0 + step, ho), None, dx, dy)
        assert np.array_equal(dx, want_x) and np.array_equal(dy, want_y), step


def test_integer_decimation_is_the_exact_sum_of_four_samples():
    x, y = _pair((1, 1, 37, 29), seed=3)
    g = gaussian_window().numpy()
    xp, yp = x[0, 0], y[0, 0]
    dx, dy = np.zeros((19, 15), np.uint16), np.zeros((19, 15), np.uint16)
    _cpu._native.ssim_sums(xp, yp, 255.0, g, 2e-4, 18e-4, 0, 27, None, dx, dy)
    pad = np.pad(xp.astype(np.int64), ((0, 1), (0, 1)), mode="symmetric")  # mirror the odd last row and column
    want = pad[0::2, 0::2] + pad[0::2, 1::2] + pad[1::2, 0::2] + pad[1::2, 1::2]
    assert np.array_equal(dx, want)
    # a uint16 scale whose sums cannot fit uint16 is refused, not wrapped
    big = np.full((30, 30), 60000, np.uint16)
    with pytest.raises(OverflowError, match="does not fit"):
        _cpu._native.ssim_sums(big, big, 65535.0, g, 2e-4, 18e-4, 0, 20, None,
                               np.zeros((15, 15), np.uint16), np.zeros((15, 15), np.uint16))
    with pytest.raises(TypeError, match="integer samples"):
        _cpu._native.ssim_sums(xp.astype(np.float64), yp.astype(np.float64), 255.0, g, 2e-4, 18e-4, 0, 27, None,
                               dx, dy)
    with pytest.raises(ValueError, match="r0 must be even"):
        _cpu._native.ssim_sums(xp, yp, 255.0, g, 2e-4, 18e-4, 1, 27, None, dx, dy)


def test_sixteen_bit_images_keep_exact_uint32_scales():
    x, y = _pair((1, 1, 200, 180), seed=8, dtype=np.uint16, top=65535)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    s, cs = _cpu.ms_ssim_terms(xt, yt, 65535.0, gaussian_window(), 0.01, 0.03, 5)
    ref_s, ref_cs = O.msssim_scales(x[0, 0].astype(np.float64), y[0, 0].astype(np.float64), 65535.0)
    assert np.abs(s[0, 0].numpy() - ref_s).max() <= 1e-12 and np.abs(cs[0, 0].numpy() - ref_cs).max() <= 1e-12


def test_scales_do_not_depend_on_threads_or_strip_sizes(monkeypatch):
    x, y = (torch.from_numpy(a) for a in _pair((1, 3, 260, 230), seed=11))
    win = gaussian_window()
    before = torch.get_num_threads()
    results = []
    try:
        for threads, rows, jobs in ((1, 64, 16), (2, 64, 16), (2, 8, 64), (1, 1000, 1)):
            torch.set_num_threads(threads)
            monkeypatch.setattr(_cpu, "STRIP_ROWS", rows)
            monkeypatch.setattr(_cpu, "JOBS", jobs)
            monkeypatch.setattr(_cpu, "MIN_ITEM", 1)
            results.append(_cpu.ms_ssim_terms(x, y, 255.0, win, 0.01, 0.03, 5))
    finally:
        torch.set_num_threads(before)
    for s, cs in results[1:]:
        assert (s - results[0][0]).abs().max() < 1e-14 and (cs - results[0][1]).abs().max() < 1e-14
    assert torch.equal(results[0][0], results[1][0])  # the same strips on 1 or 2 threads: the same bits
