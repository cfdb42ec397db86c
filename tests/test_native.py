"""The C kernels (iqa_cli/metrics/_native.c) against the torch kernels.

Both paths compute the same definitions in float64; the oracle tests check
the numbers against Wang's values, these check that the two paths agree
(~1e-15), whatever the stored dtype, size, thread count or strip layout.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

import iqa_cli
from iqa_cli.metrics import _cpu
from iqa_cli.metrics._filters import gaussian_window, matlab_box_decimate, matlab_box_decimate_scaled

pytestmark = pytest.mark.native  # skipped without the C extension; an error under CI=true (conftest)

TOL = 1e-13


@pytest.fixture
def torch_path(monkeypatch):
    """Run a callable with the C kernels disabled."""

    def run(fn, *args, **kw):
        monkeypatch.setenv("IQA_NATIVE", "0")
        try:
            return fn(*args, **kw)
        finally:
            monkeypatch.setenv("IQA_NATIVE", "1")

    return run


def pair(shape, seed=0, dtype=torch.uint8, noise=30):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, shape, generator=g)
    y = (x + torch.randint(-noise, noise + 1, shape, generator=g)).clamp(0, 255)
    return x.to(dtype), y.to(dtype)


@pytest.mark.parametrize("shape", [(1, 1, 11, 11), (1, 3, 12, 300), (2, 3, 70, 37), (1, 1, 301, 263)])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_ssim_matches_torch_path(torch_path, shape, dtype):
    x, y = pair(shape, dtype=dtype)
    native, nmap = iqa_cli.ssim(x, y, 255.0, return_map=True)
    ref, rmap = torch_path(iqa_cli.ssim, x.double(), y.double(), 255.0, return_map=True)
    assert native.dtype == torch.float64 and native.shape == (shape[0],)
    assert (native - ref).abs().max() < TOL
    assert nmap.shape == rmap.shape and (nmap - rmap).abs().max() < 1e-12


@pytest.mark.parametrize("window_size, sigma", [(1, 1.5), (3, 0.8), (7, 1.5), (15, 3.0)])
def test_other_windows_match_torch_path(torch_path, window_size, sigma):
    x, y = pair((1, 2, 40, 53), seed=4)
    native = iqa_cli.ssim(x, y, 255.0, window_size=window_size, sigma=sigma)
    ref = torch_path(iqa_cli.ssim, x.double(), y.double(), 255.0, window_size=window_size, sigma=sigma)
    assert (native - ref).abs().max() < TOL


def test_ms_ssim_and_downsampling_match_torch_path(torch_path):
    x, y = pair((2, 3, 181, 203), seed=1)
    assert (iqa_cli.ms_ssim(x, y, 255) - torch_path(iqa_cli.ms_ssim, x, y, 255)).abs().max() < TOL
    x, y = pair((1, 3, 400, 390), seed=2)
    a = iqa_cli.ssim(x, y, 255, downsample="matlab")
    assert (a - torch_path(iqa_cli.ssim, x, y, 255, downsample="matlab")).abs().max() < TOL
    assert (a - iqa_cli.ssim(x, y, 255)).abs().max() > 1e-5  # the option changes the number


@pytest.mark.parametrize("shape", [(1, 1, 33, 33), (2, 3, 61, 90)])
def test_zhao_mix_matches_torch_path(torch_path, shape):
    x, y = pair(shape, seed=3)
    for alpha in (0.84, 0.0, 1.0):
        native = iqa_cli.mix_loss(x, y, 255, alpha)
        ref = torch_path(iqa_cli.mix_loss, x.double(), y.double(), 255, alpha)
        assert (native - ref).abs().max() < TOL, alpha


def test_decimation_is_bit_identical():
    for shape in [(1, 3, 9, 7), (2, 1, 10, 12), (1, 2, 33, 18)]:
        x, y = pair(shape, seed=4)
        dx, dy = _cpu.decimate2(x, y, 255.0)
        assert torch.equal(dx, matlab_box_decimate(x.double() / 255.0, 2))
        assert torch.equal(dy, matlab_box_decimate(y.double() / 255.0, 2))


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 6])
def test_channel_mean_is_torch_mean_bit_for_bit(channels):
    # ssim() and ms_ssim() average the channels in numpy; the bits must stay torch's mean(dim=1)
    rng = np.random.default_rng(channels)
    m = rng.standard_normal((64, channels)) * 10.0 ** rng.uniform(-8, 8, (64, channels))
    m[0, 0], m[1, -1] = -0.0, np.nan
    got, want = _cpu.channel_mean(m).numpy(), torch.from_numpy(m).mean(dim=1).numpy()
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got[1])
    ok = ~np.isnan(want)
    assert np.array_equal(got[ok].view(np.int64), want[ok].view(np.int64))


@pytest.mark.parametrize("f", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("shape", [(1, 3, 37, 29), (2, 1, 40, 24)])
def test_banded_matlab_decimation_is_bit_identical(f, shape):
    """ssim(downsample="matlab") decimates band by band (no float64 copy of the
    whole image): the same bits as decimating the whole converted image."""
    x, y = pair(shape, seed=9)
    for t, scale in ((x, 255.0), (y.float() / 255, 1.0)):
        whole = matlab_box_decimate(t.double() / scale, f)
        for band_rows in (1, 3, 64):
            banded = matlab_box_decimate_scaled(t, f, scale, band_rows=band_rows)
            assert banded.dtype == torch.float64 and torch.equal(banded, whole), (band_rows, scale)


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_run_returns_results_in_order_and_waits_before_raising(threads):
    """Results in job order; an error is raised only once no job is still
    running. Which thread takes which job is up to the scheduler and is not
    asserted (under load the helpers may take them all, or none)."""
    import threading
    import time

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert _cpu._run([lambda i=i: i * i for i in range(37)]) == [i * i for i in range(37)]
        lock = threading.Lock()
        running, started, finished = [0], [], []

        def job(i):
            with lock:
                running[0] += 1
                started.append(i)
            try:
                if i == 3:
                    raise ValueError("job 3")
                time.sleep(0.002)
            finally:
                with lock:
                    running[0] -= 1
                    finished.append(i)

        with pytest.raises(ValueError, match="job 3"):
            _cpu._run([lambda i=i: job(i) for i in range(12)])
        with lock:  # nothing was running when _run raised, and every job taken had finished
            assert running[0] == 0 and sorted(started) == sorted(finished) and 3 in finished
        snapshot = list(finished)
        time.sleep(0.05)
        assert finished == snapshot  # and no job starts afterwards
        assert _cpu._run([lambda: "again"] * 5) == ["again"] * 5  # the pool is still usable
    finally:
        torch.set_num_threads(before)


def test_results_do_not_depend_on_threads_or_strips(monkeypatch):
    x, y = pair((1, 3, 200, 150), seed=5)
    win = gaussian_window()
    before = torch.get_num_threads()
    results = []
    try:
        for threads, rows in ((1, 64), (2, 64), (2, 7), (1, 1000)):
            torch.set_num_threads(threads)
            monkeypatch.setattr(_cpu, "STRIP_ROWS", rows)
            s, cs, _ = _cpu.mean_ssim_cs(x, y, 255.0, win, 0.01, 0.03)
            results.append((s, cs))
    finally:
        torch.set_num_threads(before)
    for s, cs in results:
        assert (s - results[0][0]).abs().max() < 1e-14 and (cs - results[0][1]).abs().max() < 1e-14
    # same strips and threads: the identical sum, bit for bit
    torch.set_num_threads(before)
    monkeypatch.setattr(_cpu, "STRIP_ROWS", 64)
    assert torch.equal(_cpu.mean_ssim_cs(x, y, 255.0, win, 0.01, 0.03)[0], results[0][0])


def test_native_path_reads_stored_samples_without_copies():
    # a non-contiguous view is accepted (copied once) and gives the same numbers
    x, y = pair((1, 3, 64, 80), seed=6)
    xt, yt = x.transpose(-1, -2), y.transpose(-1, -2)
    a = iqa_cli.ssim(xt, yt, 255)
    b = iqa_cli.ssim(xt.contiguous(), yt.contiguous(), 255)
    assert torch.equal(a, b)


def test_gradients_still_use_torch():
    x, y = pair((1, 1, 24, 24), seed=7, dtype=torch.float64)
    x = (x / 255).requires_grad_()
    loss = 1 - iqa_cli.ssim(x, y / 255, 1.0)
    loss.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_errors_are_one_line():
    x, y = pair((1, 1, 10, 40))
    with pytest.raises(ValueError, match="smaller than the 11x11"):
        iqa_cli.ssim(x, y, 255)
    with pytest.raises(ValueError, match="33x33"):
        iqa_cli.mix_loss(*pair((1, 1, 32, 40)), 255)
    from iqa_cli.metrics import _native

    a = np.zeros((20, 20), np.uint8)
    with pytest.raises(TypeError, match="uint8, uint16, uint32, float32 or float64"):
        _native.ssim_sums(a, a.astype(np.int32), 255.0, np.ones(11) / 11, 0.0, 0.0, 0, 5)
    with pytest.raises(ValueError, match="out of range"):
        _native.ssim_sums(a, a, 255.0, np.ones(11) / 11, 0.0, 0.0, 0, 11)
    with pytest.raises(ValueError, match="odd length"):
        _native.ssim_sums(a, a, 255.0, np.ones(10) / 10, 0.0, 0.0, 0, 5)
    with pytest.raises(ValueError, match="symmetric"):  # the vertical pass folds tap pairs
        _native.ssim_sums(a, a, 255.0, np.linspace(0.1, 0.2, 11), 0.0, 0.0, 0, 5)


def test_trimmed_windows():
    g = gaussian_window(33, 0.5)
    t = _cpu.trimmed(g)
    assert t.size == 9 and abs(t.sum() - 1) < 1e-15  # taps beyond radius 4 are < 1e-18 of the centre
    assert _cpu.trimmed(gaussian_window(33, 8.0)).size == 33


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_mse_and_tv_match_torch_path(torch_path, dtype):
    x, y = pair((2, 3, 97, 131), seed=8, dtype=dtype)
    native = iqa_cli.mse(x, y)
    ref = torch_path(iqa_cli.mse, x, y)
    assert native.dtype == torch.float64 and (native - ref).abs().max() <= 1e-12 * ref.abs().max()
    # exact against an independent numpy sum (integers: every term is exact)
    d = x.numpy().astype(np.float64) - y.numpy().astype(np.float64)
    assert np.allclose(native.numpy(), (d * d).reshape(2, -1).mean(axis=1), rtol=1e-14, atol=0)
    for norm in ("l1", "l2_squared"):
        for red in ("sum", "mean", "directional_mean"):
            a = iqa_cli.total_variation(x, norm, red, data_range=255.0)
            b = torch_path(iqa_cli.total_variation, x, norm, red, data_range=255.0)
            assert (a - b).abs().max() <= 1e-12 * b.abs().max(), (norm, red)
    # the CLI's call equals the natural API call on float64 data, bit for bit
    xf = x.double() / 255.0
    assert torch.equal(iqa_cli.total_variation(x, "l1", "mean", data_range=255.0),
                       iqa_cli.total_variation(xf, "l1", "mean"))


def test_mixed_dtypes_take_the_torch_path():
    x, y = pair((1, 3, 40, 50), seed=9)
    same = iqa_cli.ssim(x, y, 255)
    assert (iqa_cli.ssim(x, y.double(), 255) - same).abs().max() < TOL
    assert (iqa_cli.mse(x, y.float()) - iqa_cli.mse(x, y)).abs().max() < 1e-12
