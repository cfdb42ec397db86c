"""The C colour conversion, ssim.m decimation and TV kernels (_native.c)
against the torch path and against numpy written here from the definitions.

Colour: y = (w0·R + w1·G) + w2·B (+ offset), floor(y + 0.5) when rounding,
each operation rounded on its own: C, torch and numpy must agree bit for
bit, also where the exact value is a rounding tie. Decimation: the mean of
f×f blocks of the symmetric-padded image with imfilter's anchor (the sum
taken row by row, left to right, as avg_pool2d does), bit for bit. TV: the
sums of |Δ| / Δ² of forward differences, to 1e-12 relative.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

import iqa_cli
from iqa_cli.metrics import _cpu
from iqa_cli.metrics._filters import matlab_box_decimate
from iqa_cli.metrics.color import BT601_STUDIO, GRAY_MATLAB, YIQ, rgb_to_gray_matlab, rgb_to_y_bt601, rgb_to_y_yiq

pytestmark = pytest.mark.native  # skipped without the C extension; an error under CI=true (conftest)

UINT16 = getattr(torch, "uint16", None)
NP = {torch.uint8: np.uint8, torch.float32: np.float32, torch.float64: np.float64}
if UINT16 is not None:
    NP[UINT16] = np.uint16
DTYPES = list(NP)
RANGE = {np.uint8: 255.0, np.uint16: 65535.0, np.float32: 1.0, np.float64: 255.0}


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


def samples(shape, dtype, seed=0) -> torch.Tensor:
    """Random samples of the dtype's usual range: integers in full range, floats in [0, 1]
    (float32) or [0, 255] with fractions (float64)."""
    g = np.random.default_rng(seed)
    kind = NP[dtype]
    if kind in (np.uint8, np.uint16):
        a = g.integers(0, np.iinfo(kind).max + 1, size=shape).astype(kind)
    else:
        a = (g.random(shape) * RANGE[kind]).astype(kind)
    return torch.from_numpy(a)


# --------------------------------------------------------------------------- colour

CONVERSIONS = {  # name: (function, weights, offset for data range L)
    "gray": (lambda x, L, **kw: rgb_to_gray_matlab(x, **kw), GRAY_MATLAB, lambda L: 0.0),
    "y601": (lambda x, L, **kw: rgb_to_y_bt601(x, L, **kw), tuple(v / 255.0 for v in BT601_STUDIO),
             lambda L: 16.0 * L / 255.0),
    "yiq": (lambda x, L, **kw: rgb_to_y_yiq(x, **kw), YIQ, lambda L: 0.0),
}


def luma_numpy(a: np.ndarray, weights, offset: float, rnd: bool) -> np.ndarray:
    """The definition, operation by operation: float64 for integer and float64
    samples, float32 (weights rounded to float32) for float32 samples."""
    t = np.float32 if a.dtype == np.float32 else np.float64
    a = a.astype(t)
    w0, w1, w2 = (t(v) for v in weights)
    y = w0 * a[:, 0:1] + w1 * a[:, 1:2]
    y = y + w2 * a[:, 2:3]
    if offset:
        y = y + t(offset)
    if rnd:
        y = np.floor(y + t(0.5))
    return y


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(CONVERSIONS))
@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 3, 37, 53), (1, 3, 5, 515)])
def test_luma_matches_torch_and_numpy_bit_for_bit(torch_path, dtype, name, shape):
    fn, weights, offset = CONVERSIONS[name]
    x = samples(shape, dtype, seed=sum(shape))
    L = RANGE[NP[dtype]]
    for rnd in (False, True):
        got = fn(x, L, round=rnd)
        ref = torch_path(fn, x, L, round=rnd)
        want = luma_numpy(x.numpy(), weights, offset(L), rnd)
        assert got.dtype == ref.dtype == (torch.float32 if dtype == torch.float32 else torch.float64)
        assert got.shape == (shape[0], 1, shape[2], shape[3])
        assert torch.equal(got, ref), (name, rnd)
        assert np.array_equal(got.numpy(), want), (name, rnd)


def _near_ties(weights, offset, count=64):
    """uint8 RGB triples whose exact luma (decimal weights) is k + 1/2, or the
    closest to it: floor(y + 0.5) then depends on the last bit of y."""
    r, g, b = np.meshgrid(np.arange(256.0), np.arange(256.0), np.arange(0.0, 256.0, 5.0), indexing="ij")
    y = (weights[0] * r + weights[1] * g) + weights[2] * b + offset
    dist = np.abs(y - np.floor(y) - 0.5).ravel()
    idx = np.argsort(dist, kind="stable")[:count]
    return np.stack([r.ravel()[idx], g.ravel()[idx], b.ravel()[idx]]).astype(np.uint8), dist[idx]


@pytest.mark.parametrize("name", list(CONVERSIONS))
def test_rounding_ties_fall_on_the_torch_side(torch_path, name):
    fn, weights, offset = CONVERSIONS[name]
    rgb, dist = _near_ties(weights, offset(255.0))
    # BT.601 and YIQ (3-decimal weights) have exact ties, decided by float64's last
    # bits; rgb2gray's 15-digit weights come no closer than ~5e-6 on this grid
    assert dist.min() < (1e-4 if name == "gray" else 1e-9)
    x = torch.from_numpy(np.ascontiguousarray(rgb.reshape(1, 3, 8, 8)))
    want = luma_numpy(x.numpy(), weights, offset(255.0), True)
    for t in (x, x.double(), x.float()):
        got = fn(t, 255.0, round=True)
        assert torch.equal(got, torch_path(fn, t, 255.0, round=True))
    assert np.array_equal(fn(x, 255.0, round=True).numpy(), want)
    # MATLAB's integer result: the same values, stored as uint8
    g8 = fn(x, 255.0, round=True, dtype=torch.uint8)
    assert g8.dtype == torch.uint8 and np.array_equal(g8.numpy(), want.astype(np.uint8))


def test_rounding_is_floor_of_half_up_also_for_floats(torch_path):
    # exact .5 results and negative values: floor(y + 0.5) on both paths
    v = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1e300, float("nan"), float("inf"), -0.0], dtype=torch.float64)
    x = torch.stack([v, torch.zeros_like(v), torch.zeros_like(v)]).reshape(1, 3, 1, -1)
    for t in (x, x.float()):
        got = rgb_to_y_yiq(t, round=True) / 0.299  # y = 0.299·R
        ref = torch_path(rgb_to_y_yiq, t, round=True) / 0.299
        assert torch.equal(got.isnan(), ref.isnan()) and torch.equal(got.nan_to_num(), ref.nan_to_num())
    ones = torch.ones(1, 3, 2, 3, dtype=torch.float64)
    assert torch.equal(rgb_to_gray_matlab(ones * 254.6, round=True), torch.full((1, 1, 2, 3), 255.0, dtype=torch.float64))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_integer_results_saturate_as_matlab(torch_path, dtype):
    x = samples((2, 3, 9, 11), dtype, seed=3)
    if dtype == torch.float64:
        x[0, :, 0, :6] = torch.tensor([float("nan"), float("inf"), -float("inf"), -3.0, 1e9, 300.0])[None, :]
    outs = [torch.uint8] + ([UINT16] if UINT16 is not None else [])
    for out in outs:
        hi = 255 if out == torch.uint8 else 65535
        for name, (fn, weights, offset) in CONVERSIONS.items():
            L = RANGE[NP[dtype]]
            got = fn(x, L, round=True, dtype=out)
            ref = torch_path(fn, x, L, round=True, dtype=out)
            y = luma_numpy(x.numpy(), weights, offset(L), True)
            want = np.clip(np.nan_to_num(y, nan=0.0, posinf=hi, neginf=0.0), 0, hi)
            assert got.dtype == ref.dtype == out
            assert torch.equal(got, ref), (name, out)
            assert np.array_equal(got.numpy().astype(np.float64), want.astype(np.float64)), (name, out)


def test_matlab_rgb2gray_of_uint8_is_uint8():
    g = np.random.default_rng(11)
    rgb = g.integers(0, 256, size=(40, 30, 3)).astype(np.uint8)
    x = torch.from_numpy(np.moveaxis(rgb, -1, 0)[None].copy())
    w = GRAY_MATLAB
    want = np.floor((w[0] * rgb[..., 0].astype(np.float64) + w[1] * rgb[..., 1]) + w[2] * rgb[..., 2] + 0.5)
    got = rgb_to_gray_matlab(x, round=True, dtype=torch.uint8)
    assert got.dtype == torch.uint8 and np.array_equal(got[0, 0].numpy(), want.astype(np.uint8))
    assert torch.equal(rgb_to_gray_matlab(x, round=True), got.double())


def test_colour_argument_errors_and_layouts():
    x = samples((1, 3, 6, 7), torch.uint8)
    with pytest.raises(ValueError, match="round=True"):
        rgb_to_gray_matlab(x, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8 or torch.uint16"):
        rgb_to_gray_matlab(x, round=True, dtype=torch.int32)
    assert rgb_to_gray_matlab(x, dtype=torch.float32).dtype == torch.float32
    # channel views, channels-last storage and an expanded grey plane (as the runner passes)
    hwc = torch.from_numpy(np.ascontiguousarray(x[0].permute(1, 2, 0).numpy())).permute(2, 0, 1)[None]
    assert torch.equal(rgb_to_y_bt601(hwc, 255.0, round=True), rgb_to_y_bt601(x, 255.0, round=True))
    grey = x[:, :1].double().expand(-1, 3, -1, -1)
    assert torch.equal(rgb_to_gray_matlab(grey), rgb_to_gray_matlab(grey.contiguous()))
    rgba = samples((2, 4, 5, 9), torch.float64)
    assert torch.equal(rgb_to_gray_matlab(rgba[:, :3]), rgb_to_gray_matlab(rgba[:, :3].contiguous()))
    assert rgb_to_gray_matlab(torch.zeros(0, 3, 4, 4, dtype=torch.uint8)).shape == (0, 1, 4, 4)


def test_colour_gradients_use_torch():
    x = samples((1, 3, 8, 8), torch.float64).requires_grad_()
    y = rgb_to_y_bt601(x, 255.0)
    y.sum().backward()
    assert torch.allclose(x.grad[0, :, 0, 0], torch.tensor([v / 255.0 for v in BT601_STUDIO], dtype=torch.float64))


# --------------------------------------------------------------------------- decimation


def box_decimate_numpy(a: np.ndarray, f: int, L: float) -> np.ndarray:
    """ssim.m's low-pass and decimation of a 2-D plane of a / L, from the definition."""
    q = a.astype(np.float64) / L
    pre = (f + 1) // 2 - 1
    post = f - 1 - pre
    p = np.pad(q, ((pre, post), (pre, post)), mode="symmetric")
    ho, wo = -(-a.shape[0] // f), -(-a.shape[1] // f)
    acc = np.zeros((ho, wo))
    for k in range(f):  # row by row, left to right: avg_pool2d's order
        for c in range(f):
            acc = acc + p[k : k + f * ho : f, c : c + f * wo : f]
    return acc / (f * f)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("f", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("hw", [(37, 29), (40, 24), (13, 8), (9, 64)])
def test_decimation_bit_identical_to_torch_and_numpy(dtype, f, hw):
    h, w = hw
    if f - 1 - ((f + 1) // 2 - 1) > min(h, w):
        pytest.skip("padding larger than the image")
    x = samples((2, 3, h, w), dtype, seed=f + h)
    y = samples((2, 3, h, w), dtype, seed=f + w + 1)
    L = RANGE[NP[dtype]]
    dx, dy = _cpu.decimate(f, L, x, y)
    (only,) = _cpu.decimate(f, L, x)
    assert dx.dtype == torch.float64 and dx.shape == (2, 3, -(-h // f), -(-w // f))
    assert torch.equal(dx, matlab_box_decimate(x.double() / L, f))
    assert torch.equal(dy, matlab_box_decimate(y.double() / L, f))
    assert torch.equal(only, dx)
    assert np.array_equal(dx[1, 2].numpy(), box_decimate_numpy(x[1, 2].numpy(), f, L))


def test_decimation_errors():
    from iqa_cli.metrics import _native

    a = np.zeros((3, 40), np.uint8)
    out = np.zeros((1, 5))
    with pytest.raises(ValueError, match="factor out of range"):
        _native.decimate(a, None, 1.0, 8, out, None, 0, 1)  # 4 mirrored rows of a 3-row image
    with pytest.raises(ValueError, match="factor out of range"):
        _native.decimate(a, None, 1.0, 1, out, None, 0, 1)
    with pytest.raises(ValueError, match="rows out of range"):
        _native.decimate(a, None, 1.0, 2, np.zeros((2, 20)), None, 0, 3)
    with pytest.raises(ValueError, match="both be given"):
        _native.decimate(a, a, 1.0, 2, np.zeros((2, 20)), None, 0, 1)


@pytest.mark.parametrize(
    "hw, f", [((300, 310), 1), ((400, 390), 2), ((641, 700), 3), ((900, 901), 4), ((1153, 1160), 5)]
)
def test_ssim_matlab_downsampling_matches_torch_path(torch_path, hw, f):
    from iqa_cli.metrics.ssim import matlab_downsample_factor

    assert matlab_downsample_factor(*hw) == f
    g = torch.Generator().manual_seed(f)
    x = torch.randint(0, 256, (1, 1) + hw, generator=g, dtype=torch.uint8)
    y = (x.int() + torch.randint(-40, 41, x.shape, generator=g, dtype=torch.int32)).clamp(0, 255).to(torch.uint8)
    ref = torch_path(iqa_cli.ssim, x.double(), y.double(), 255.0, downsample="matlab")
    for t, u in ((x, y), (x.double(), y.double()), (x.float(), y.float())):
        got = iqa_cli.ssim(t, u, 255.0, downsample="matlab")
        assert got.dtype == torch.float64 and (got - ref).abs().max() < 1e-13, t.dtype
    if UINT16 is not None:
        x16, y16 = (torch.from_numpy(t.numpy().astype(np.uint16) * 257) for t in (x, y))
        assert (iqa_cli.ssim(x16, y16, 65535.0, downsample="matlab") - ref).abs().max() < 1e-13
    if f == 1:
        assert torch.equal(iqa_cli.ssim(x, y, 255.0, downsample="matlab"), iqa_cli.ssim(x, y, 255.0))


# --------------------------------------------------------------------------- TV


def tv_numpy(a: np.ndarray, L: float, squared: bool) -> tuple[np.ndarray, np.ndarray]:
    q = a.astype(np.float64) / L
    dh = q[:, :, 1:, :] - q[:, :, :-1, :]
    dw = q[:, :, :, 1:] - q[:, :, :, :-1]
    f = (lambda d: d * d) if squared else np.abs
    return f(dh).sum(axis=(1, 2, 3)), f(dw).sum(axis=(1, 2, 3))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 2, 2), (1, 1, 3, 9), (2, 2, 17, 8), (1, 3, 70, 131), (1, 1, 300, 21)])
def test_tv_matches_torch_and_numpy(torch_path, dtype, shape):
    x = samples(shape, dtype, seed=shape[-1])
    L = RANGE[NP[dtype]]
    n, c, h, w = shape
    for norm, squared in (("l1", False), ("l2_squared", True)):
        th, tw = tv_numpy(x.numpy(), L, squared)
        want = {"sum": th + tw, "mean": (th + tw) / (c * ((h - 1) * w + h * (w - 1))),
                "directional_mean": th / (c * (h - 1) * w) + tw / (c * h * (w - 1))}
        for red, value in want.items():
            got = iqa_cli.total_variation(x, norm, red, data_range=L)
            ref = torch_path(iqa_cli.total_variation, x, norm, red, data_range=L)
            assert got.dtype == torch.float64
            assert np.allclose(got.numpy(), value, rtol=1e-12, atol=0), (norm, red)
            assert (got - ref).abs().max() <= 1e-12 * ref.abs().max(), (norm, red)
    # stored samples with a data range: the same bits as the divided float64 image
    xf = x.double() / L
    for norm in ("l1", "l2_squared"):
        assert torch.equal(iqa_cli.total_variation(x, norm, "mean", data_range=L), iqa_cli.total_variation(xf, norm, "mean"))


def test_tv_threads_do_not_change_bits(monkeypatch):
    x = samples((1, 3, 257, 190), torch.uint8, seed=5)
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(iqa_cli.total_variation(x, "l1", "mean", data_range=255.0))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(results[0], results[1])


# --------------------------------------------------------------------------- uint16 on the other C paths


@pytest.mark.skipif(UINT16 is None, reason="torch has no uint16")
def test_uint16_tensors_take_the_c_path_with_the_same_numbers(torch_path):
    g = np.random.default_rng(2)
    a = g.integers(0, 65536, size=(1, 3, 60, 70)).astype(np.uint16)
    b = np.clip(a.astype(np.int64) + g.integers(-900, 901, size=a.shape), 0, 65535).astype(np.uint16)
    x, y = torch.from_numpy(a), torch.from_numpy(b)
    assert _cpu.usable(x, y)
    xd, yd = x.double(), y.double()
    assert (iqa_cli.ssim(x, y, 65535.0) - torch_path(iqa_cli.ssim, xd, yd, 65535.0)).abs().max() < 1e-13
    assert (iqa_cli.mse(x, y) - iqa_cli.mse(xd, yd)).abs().max() <= 1e-12 * iqa_cli.mse(xd, yd).abs().max()
