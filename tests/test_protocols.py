"""Named parity protocols (iqa_cli.metrics.protocols) against independent numpy
computations written here from each protocol's definition.

Pairs are generated deterministically (integer formulas, no RNG): a textured
synthetic image distorted by hashed noise, a 3x3 box blur or a one-pixel
shift; grey and colour, 8- and 16-bit, odd and mixed-parity sizes, crops 0/2/4.
The numpy side reuses the float64 reference of ``oracles.py`` (Wang's
building blocks, itself checked against Octave) and adds each protocol's
variations: windows, padding, downsampling, rounding, luma, ReLU, epsilon.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import oracles as O
import pytest
import torch

from iqa_cli.metrics.color import rgb_to_gray_matlab, rgb_to_y_bt601
from iqa_cli.metrics.ms_ssim import ms_ssim as iqa_ms_ssim
from iqa_cli.metrics.pixel import mse as iqa_mse
from iqa_cli.metrics.pixel import psnr as iqa_psnr
from iqa_cli.metrics.protocols import (
    PROTOCOLS,
    crop_border,
    get_protocol,
    protocol_ms_ssim,
    protocol_mse,
    protocol_psnr,
    protocol_ssim,
)
from iqa_cli.metrics.ssim import ssim as iqa_ssim

W5 = np.array(O.MSSSIM_WEIGHTS)
G11 = O.gaussian_1d(11, 1.5)

# --------------------------------------------------------------------------------------
# deterministic pairs
# --------------------------------------------------------------------------------------


def _base(h: int, w: int, c: int, bits: int) -> np.ndarray:
    planes = [np.roll(O.synth(h, w), 17 * k, axis=1).astype(np.int64) for k in range(c)]
    a = np.stack(planes, axis=-1)
    if bits == 16:  # use the low byte too, so 16-bit data is not 8-bit data scaled
        i, j = np.mgrid[0:h, 0:w]
        a = a * 256 + ((i * 31 + j * 17)[..., None] + 40 * np.arange(c)) % 256
    return a


def _distort(a: np.ndarray, kind: str, maxval: int) -> np.ndarray:
    if kind == "noise":
        amp = 30 if maxval == 255 else 30 * 257
        return np.clip(a + O.hnoise(a.shape, amp), 0, maxval)
    if kind == "blur":  # 3x3 box, symmetric borders, rounded half up
        p = np.pad(a, ((1, 1), (1, 1), (0, 0)), mode="symmetric")
        h, w = a.shape[:2]
        s = sum(p[di : di + h, dj : dj + w] for di in range(3) for dj in range(3))
        return (s * 2 + 9) // 18
    if kind == "shift":
        return np.roll(a, (1, 2), axis=(0, 1))
    raise ValueError(kind)


def make_pair(h: int, w: int, c: int, bits: int, kind: str):
    maxval = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    a = _base(h, w, c, bits)
    return a.astype(dtype), _distort(a, kind, maxval).astype(dtype), float(maxval)


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """(H, W, C) numpy → (1, C, H, W) tensor of the same dtype (uint16 via int32)."""
    a = np.ascontiguousarray(a.transpose(2, 0, 1))[None]
    if a.dtype == np.uint16:
        a = a.astype(np.int32)
    return torch.from_numpy(a.copy())


# --------------------------------------------------------------------------------------
# numpy references, from the definitions
# --------------------------------------------------------------------------------------


class Undefined(Exception):
    """The protocol defines no such metric / conversion for this input."""


def np_luma(a, weights, offset=0.0):
    return (weights[0] * a[..., 0] + weights[1] * a[..., 1] + weights[2] * a[..., 2] + offset)[..., None]


def np_prepare(p: str, a: np.ndarray, L: float, color: str, integer: bool):
    a = a.astype(np.float64)
    conv = color != "rgb" and a.shape[-1] == 3
    if p in ("wang", "matlab"):
        if conv:
            if color == "y":  # MATLAB rgb2ycbcr
                a = np_luma(a, [v / 255.0 for v in (65.481, 128.553, 24.966)], 16.0 * L / 255.0)
            else:  # MATLAB rgb2gray
                a = np_luma(a, O.RGB2GRAY_WEIGHTS)
            if integer:
                a = np.floor(a + 0.5)
        return a, L
    if p == "basicsr":
        if conv:
            if color == "gray":
                raise Undefined
            n = a.astype(np.float32) / np.float32(L)
            n = n.astype(np.float64)
            y = n[..., 2] * 24.966 + n[..., 1] * 128.553 + n[..., 0] * 65.481 + 16.0
            a = ((y / 255.0).astype(np.float32) * np.float32(L)).astype(np.float64)[..., None]
        return a, L
    if p in ("pyiqa", "piq"):
        a = a / L
        if conv:
            a = np_luma(a, (0.299, 0.587, 0.114))
        return a, 1.0
    if p == "skimage":
        if conv:
            if color == "y":
                a = np_luma(a, [v / 255.0 for v in (65.481, 128.553, 24.966)], 16.0 * L / 255.0)
            else:
                a = np_luma(a, (0.2125, 0.7154, 0.0721))
        return a, L
    if p == "tf":
        if integer:
            a, L = a / L, 1.0
        if conv:
            a = np_luma(a, (0.299, 0.587, 0.114) if color == "y" else (0.2989, 0.5870, 0.1140))
        return a, L
    if p in ("pytorch-msssim", "torchmetrics"):
        if conv:
            raise Undefined
        return a, L
    raise KeyError(p)


def maps_valid(a, b, taps, L, k2=0.03):
    """(lum, cs) maps on the 'valid' region, population moments, separable ``taps``."""
    return O.lum_cs_maps(a, b, lambda z: O.corr2d_valid(z, taps), (0.01 * L) ** 2, (k2 * L) ** 2)


def skimage_ssim_plane(a, b, L):
    """7x7 uniform window, sample covariance (x 49/48), valid region."""
    k = np.full(7, 1.0 / 7)
    f = lambda z: O.corr2d_valid(z, k)
    cov = 49.0 / 48.0
    ux, uy = f(a), f(b)
    vx = cov * (f(a * a) - ux * ux)
    vy = cov * (f(b * b) - uy * uy)
    vxy = cov * (f(a * b) - ux * uy)
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(s.mean())


def torchmetrics_maps(a, b, L):
    """Reflect-padded (mirror without edge) full-size maps with variances clamped at 0."""
    pa, pb = np.pad(a, 5, mode="reflect"), np.pad(b, 5, mode="reflect")
    f = lambda z: O.corr2d_valid(z, G11)
    mx, my = f(pa), f(pb)
    vx = np.maximum(f(pa * pa) - mx * mx, 0)
    vy = np.maximum(f(pb * pb) - my * my, 0)
    vxy = f(pa * pb) - mx * my
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    cs = (2 * vxy + c2) / (vx + vy + c2)
    return (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs, cs


def planes(a):
    return [a[..., c] for c in range(a.shape[-1])]


def block_mean(a, f):
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    a = a[:h, :w]
    return a.reshape(h // f, f, w // f, f).mean(axis=(1, 3))


def down_matlab(a):
    return O.box_same_symmetric(a, 2)[::2, ::2]


def down_zero(a):  # zero padding (H%2, W%2) on both sides, zeros counted
    ph, pw = a.shape[0] % 2, a.shape[1] % 2
    return block_mean(np.pad(a, ((ph, ph), (pw, pw))), 2)


def down_piq(a):  # one replicated row/column at top and left if either side is odd
    p = max(a.shape[0] % 2, a.shape[1] % 2)
    return block_mean(np.pad(a, ((p, 0), (p, 0)), mode="edge"), 2)


def np_ms_ssim(a, b, L, stats, down, pooled):
    """Π cs^w · SSIM_5^w5 with terms clamped at 0; per plane then mean, or pooled planes."""
    xs, ys = planes(a), planes(b)
    terms = []
    for level in range(5):
        per = [stats(x, y, L) for x, y in zip(xs, ys)]  # (mean ssim, mean cs, count) per plane
        if pooled:
            n = sum(c for _, _, c in per)
            s = [sum(v * c for v, _, c in per) / n]
            cs = [sum(v * c for _, v, c in per) / n]
        else:
            s, cs = [v for v, _, _ in per], [v for _, v, _ in per]
        terms.append(s if level == 4 else cs)
        xs, ys = [down(x) for x in xs], [down(y) for y in ys]
    t = np.maximum(np.array(terms, dtype=np.float64), 0.0)  # (5, planes)
    return float(np.mean(np.prod(t ** W5[:, None], axis=0)))


def stats_valid(a, b, L):
    lum, cs = maps_valid(a, b, G11, L)
    return float((lum * cs).mean()), float(cs.mean()), cs.size


def stats_relu(a, b, L):
    lum, cs = maps_valid(a, b, G11, L)
    cs = np.maximum(cs, 0)
    return float((lum * cs).mean()), float(cs.mean()), cs.size


def stats_torchmetrics(a, b, L):
    s, cs = torchmetrics_maps(a, b, L)
    return float(s.mean()), float(cs[5:-5, 5:-5].mean()), s.size


def need(a, side):
    if min(a.shape[:2]) < side:
        raise Undefined


def np_metric(p: str, metric: str, a, b, L, color: str, integer: bool) -> float:
    a, L2 = np_prepare(p, a, L, color, integer)
    b, _ = np_prepare(p, b, L, color, integer)
    if metric == "mse":
        return O.mse(a, b)
    if metric == "psnr":
        m = O.mse(a, b)
        if p in ("pyiqa", "piq"):
            return 10 * math.log10(1.0 / (m + 1e-8))
        return math.inf if m == 0 else 10 * math.log10(L2 * L2 / m)
    if metric == "ssim":
        if p == "matlab":
            return float(np.mean([O.ssim_auto(x, y, L2) for x, y in zip(planes(a), planes(b))]))
        if p == "skimage":
            need(a, 7)
            return float(np.mean([skimage_ssim_plane(x, y, L2) for x, y in zip(planes(a), planes(b))]))
        if p == "torchmetrics":
            need(a, 6)
            return float(np.mean([torchmetrics_maps(x, y, L2)[0].mean() for x, y in zip(planes(a), planes(b))]))
        if p == "pyiqa":
            a, b = np.round(a * 255) / 255, np.round(b * 255) / 255
            need(a, 11)
            return float(np.mean([stats_relu(x, y, 1.0)[0] for x, y in zip(planes(a), planes(b))]))
        if p == "piq":
            f = max(1, round(min(a.shape[:2]) / 256))  # Python round
            if f > 1:
                a = np.stack([block_mean(x, f) for x in planes(a)], -1)
                b = np.stack([block_mean(x, f) for x in planes(b)], -1)
        need(a, 11)
        return float(np.mean([O.ssim_index(x, y, L2) for x, y in zip(planes(a), planes(b))]))
    if metric == "ms_ssim":
        if p in ("basicsr", "skimage"):
            raise Undefined
        if p in ("wang", "matlab"):
            need(a, 176)
            return float(np.mean([O.msssim(x, y, L2) for x, y in zip(planes(a), planes(b))]))
        if p == "torchmetrics":
            need(a, 176)
            return np_ms_ssim(a, b, L2, stats_torchmetrics, lambda z: block_mean(z, 2), pooled=True)
        need(a, 161)
        if p == "pyiqa":
            a, b = np.round(a * 255) / 255, np.round(b * 255) / 255
            return np_ms_ssim(a, b, 1.0, stats_relu, down_zero, pooled=True)
        down = {"tf": down_matlab, "pytorch-msssim": down_zero, "piq": down_piq}[p]
        return np_ms_ssim(a, b, L2, stats_valid, down, pooled=False)
    raise KeyError(metric)


FUNCS = {"ssim": protocol_ssim, "ms_ssim": protocol_ms_ssim, "mse": protocol_mse, "psnr": protocol_psnr}
TOL = {"ssim": 1e-10, "ms_ssim": 1e-10, "mse": 1e-9, "psnr": 1e-9}

# (H, W, channels, bits, distortion, crop): odd and mixed parity, grey and colour, 8/16-bit
CASES = [
    (h, w, c, bits, kind, crop)
    for (h, w) in ((37, 45), (38, 43))
    for (c, bits) in ((1, 8), (3, 8), (3, 16))
    for kind, crop in (("noise", 0), ("blur", 2), ("shift", 4))
]
# MS-SSIM needs >= 161 / 176 px; crop 2 and 4 bring these below 176 (wang, torchmetrics raise)
MS_CASES = [
    (h, w, c, bits, kind, crop)
    for (h, w) in ((177, 181), (178, 185))
    for (c, bits, kind, crop) in ((1, 8, "noise", 0), (3, 8, "blur", 2), (3, 16, "shift", 4))
]


def _case_id(c):
    h, w, ch, bits, kind, crop = c
    return f"{h}x{w}x{ch}-{bits}bit-{kind}-crop{crop}"


def _check(name, case, metrics, colors):
    h, w, c, bits, kind, crop = case
    a, b, L = make_pair(h, w, c, bits, kind)
    x, y = to_tensor(a), to_tensor(b)
    ac, bc = (a[crop : h - crop, crop : w - crop], b[crop : h - crop, crop : w - crop]) if crop else (a, b)
    for color in colors if c == 3 else ("rgb", "y"):
        for metric in metrics:
            fn = FUNCS[metric]
            try:
                want = np_metric(name, metric, ac, bc, L, color, integer=True)
            except (Undefined, ValueError):
                with pytest.raises(ValueError):
                    fn(x, y, L, name, color, crop)
                continue
            got = fn(x, y, L, name, color, crop)
            assert got.shape == (1,) and got.dtype == torch.float64, (metric, color)
            assert abs(got.item() - want) <= TOL[metric] * max(1.0, abs(want)), (metric, color, got.item(), want)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_protocol_against_numpy_definition(name, case):
    """SSIM, MSE, PSNR (and MS-SSIM's size error) for rgb, y and gray."""
    _check(name, case, ("ssim", "mse", "psnr", "ms_ssim"), ("rgb", "y", "gray"))


@pytest.mark.parametrize("case", MS_CASES, ids=[_case_id(c) for c in MS_CASES])
@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_ms_ssim_against_numpy_definition(name, case):
    _check(name, case, ("ms_ssim",), ("rgb", "y") if case[4] == "blur" else ("rgb",))


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_float_input_and_integer_flag(name):
    """Float images in [0, 1] with L = 1 (integer=False: no rounding of luma, no tf rescale)
    match the definition; colour y for the protocols that define it."""
    a, b, _ = make_pair(37, 45, 3, 8, "noise")
    af, bf = a / 255.0, b / 255.0
    x, y = torch.from_numpy(af.transpose(2, 0, 1)[None].copy()), torch.from_numpy(bf.transpose(2, 0, 1)[None].copy())
    for color in ("rgb", "y"):
        for metric in ("ssim", "psnr"):
            try:
                want = np_metric(name, metric, af, bf, 1.0, color, integer=False)
            except Undefined:
                continue
            got = FUNCS[metric](x, y, 1.0, name, color)
            assert abs(got.item() - want) <= 1e-10 * max(1.0, abs(want)), (metric, color)


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_one_channel_unchanged_under_luma(name):
    a, b, L = make_pair(40, 43, 1, 8, "blur")
    x, y = to_tensor(a), to_tensor(b)
    impl = get_protocol(name).implementation()
    for color in ("y", "gray"):
        xp, L2 = impl.prepare(x, L, color, True)
        xr, L3 = impl.prepare(x, L, "rgb", True)
        assert L2 == L3 and torch.equal(xp, xr), color
        assert torch.allclose(xp.double() * L / L2, x.double(), rtol=0, atol=1e-12)  # only the range convention
        for metric in ("ssim", "psnr", "mse"):
            assert torch.equal(FUNCS[metric](x, y, L, name, color), FUNCS[metric](x, y, L, name, "rgb"))


def test_wang_is_todays_functions_bit_for_bit():
    for c in (1, 3):
        a, b, L = make_pair(180, 183, c, 8, "noise")
        x, y = to_tensor(a), to_tensor(b)
        assert torch.equal(protocol_ssim(x, y, L), iqa_ssim(x, y, L))
        assert torch.equal(protocol_ms_ssim(x, y, L), iqa_ms_ssim(x, y, L))
        assert torch.equal(protocol_psnr(x, y, L), iqa_psnr(x, y, L))
        assert torch.equal(protocol_mse(x, y, L), iqa_mse(x, y))
    a, b, L = make_pair(60, 61, 3, 16, "shift")
    x, y = to_tensor(a), to_tensor(b)
    yx, yy = rgb_to_y_bt601(x, L, round=True), rgb_to_y_bt601(y, L, round=True)
    assert torch.equal(protocol_ssim(x, y, L, color="y"), iqa_ssim(yx, yy, L))
    gx, gy = rgb_to_gray_matlab(x.double(), round=True), rgb_to_gray_matlab(y.double(), round=True)
    assert torch.equal(protocol_psnr(x, y, L, color="gray"), iqa_psnr(gx, gy, L))
    assert torch.equal(protocol_ssim(x, y, L, "matlab"), iqa_ssim(x, y, L, downsample="matlab"))


def test_matlab_downsamples_where_wang_does_not():
    a, b = O.synth_pair(400, 389)  # f = round(389/256) = 2
    x, y = to_tensor(a[..., None]), to_tensor(b[..., None])
    want = O.ssim_auto(a, b, 255.0)
    assert abs(protocol_ssim(x, y, 255, "matlab").item() - want) < 1e-10
    assert abs(protocol_ssim(x, y, 255, "wang").item() - want) > 1e-3


def test_piq_python_round_vs_matlab_round():
    """640 px: Python rounds 2.5 to 2 (piq), MATLAB to 3 (ssim.m)."""
    a, b = O.synth_pair(640, 700)
    x, y = to_tensor(a[..., None]), to_tensor(b[..., None])
    got = protocol_ssim(x, y, 255, "piq").item()
    want = np_metric("piq", "ssim", a[..., None], b[..., None], 255.0, "rgb", True)
    assert abs(got - want) < 1e-10
    assert abs(got - O.ORACLES_BY_NAME["synth_640x700"].ssim_auto) > 5e-3


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_identical_images(name):
    a, _, L = make_pair(30, 33, 3, 8, "noise")
    x = to_tensor(a)
    want = 80.0 if name in ("pyiqa", "piq") else math.inf
    assert protocol_psnr(x, x.clone(), L, name).item() == pytest.approx(want, abs=1e-9)
    assert protocol_mse(x, x.clone(), L, name).item() == 0.0
    assert protocol_ssim(x, x.clone(), L, name).item() == pytest.approx(1.0, abs=1e-12)


def test_negative_similarity_policies():
    """Inverted image: wang NaN (with a warning); pyiqa's per-pixel ReLU makes SSIM positive;
    the ReLU protocols clamp MS-SSIM to 0 instead of NaN."""
    a = O.synth(180, 183)
    b = 255 - a
    x, y = to_tensor(a[..., None]), to_tensor(b[..., None])
    with pytest.warns(RuntimeWarning):
        assert math.isnan(protocol_ms_ssim(x, y, 255).item())
    assert protocol_ssim(x, y, 255).item() < 0
    relu = protocol_ssim(x, y, 255, "pyiqa").item()
    assert relu >= 0 and relu == pytest.approx(np_metric("pyiqa", "ssim", a[..., None], b[..., None], 255.0, "rgb", True), abs=1e-12)
    for name in ("tf", "pytorch-msssim", "piq", "torchmetrics"):
        v = protocol_ms_ssim(x, y, 255, name).item()
        want = np_metric(name, "ms_ssim", a[..., None], b[..., None], 255.0, "rgb", True)
        assert v == pytest.approx(want, abs=1e-10) and v >= 0, name


def test_min_sizes_match_the_registry_and_raise():
    for name, p in PROTOCOLS.items():
        impl = p.implementation()
        assert impl.MIN_SIZE == dict(p.min_size), name
        for metric, fn in (("ssim", protocol_ssim), ("ms_ssim", protocol_ms_ssim)):
            side = p.min_side(metric)
            if side is None:
                x = torch.zeros(1, 1, 200, 200, dtype=torch.uint8)
                with pytest.raises(ValueError, match="defines no"):
                    fn(x, x, 255, name)
                continue
            ok = torch.from_numpy(O.synth(side, side + 3)[None, None].copy())
            assert torch.isfinite(fn(ok, ok.flip(-1), 255, name)).all(), (name, metric)
            small = ok[..., : side - 1, :]
            with pytest.raises(ValueError):
                fn(small, small.flip(-1), 255, name)


def test_crop_border():
    x = torch.arange(2 * 3 * 10 * 12).reshape(2, 3, 10, 12)
    assert torch.equal(crop_border(x, 0), x)
    assert torch.equal(crop_border(x, 2), x[..., 2:8, 2:10])
    with pytest.raises(ValueError, match="leaves nothing"):
        crop_border(x, 5)
    with pytest.raises(ValueError):
        crop_border(x, -1)


def test_registry_and_errors():
    assert get_protocol("PyTorch_MSSSIM").name == "pytorch-msssim"
    with pytest.raises(ValueError, match="known: wang, matlab"):
        get_protocol("nope")
    x = torch.zeros(1, 3, 20, 20, dtype=torch.uint8)
    with pytest.raises(ValueError, match="color"):
        protocol_ssim(x, x, 255, color="lab")
    with pytest.raises(ValueError, match="no colour conversion"):
        protocol_ssim(x, x, 255, "torchmetrics", color="y")
    for p in PROTOCOLS.values():
        assert p.default_color in ("rgb", "y", "gray")
        for field in ("reproduces", "checked_against", "window", "padding", "colour", "data_range",
                      "crop", "pooling", "precision", "negatives", "differs_from_wang"):
            assert getattr(p, field).strip(), (p.name, field)


def test_registry_imports_without_torch():
    code = "import sys, iqa_cli.metrics.protocols as p; p.get_protocol('basicsr'); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
