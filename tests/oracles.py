"""Test oracles for iqa's metrics (spec ``metrics.md`` §1, §10 and Appendix A).

This module has three parts:

1. The deterministic distortions of spec §10.2. They are integer numpy
   formulas with no RNG, so the test pairs are regenerated bit-exactly from
   scikit-image's bundled ``camera`` and ``astronaut`` images.
2. The oracle table of spec §10.3 (Wang's MATLAB scripts run under Octave) as
   data, plus the colour oracles.
3. A small, independent float64 numpy reference written from the definitions
   in spec §1 / Appendix A (not from any library's or Wang's code). It is
   itself checked against §10.3 to <= 1e-8 in ``test_oracles.py``; that check
   proves both the pair generators and the reference are right before either
   is used to judge iqa.

Nothing here imports torch or iqa_cli.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# --------------------------------------------------------------------------------------
# 1. Deterministic pair generators (spec §10.2)
# --------------------------------------------------------------------------------------


def _ij(H: int, W: int):
    i = np.arange(H, dtype=np.int64)[:, None]
    j = np.arange(W, dtype=np.int64)[None, :]
    return i, j


def hnoise(shape, amp: int) -> np.ndarray:
    """Deterministic integer "noise" in [-amp, amp] (int64), per-channel rolled for 3-D shapes."""
    H, W = shape[:2]
    i, j = _ij(H, W)
    h = (i * 73856093 + j * 19349663 + i * j * 83492791) % 1000003
    n = (h % (2 * amp + 1)) - amp
    if len(shape) == 3:
        n = np.stack([np.roll(n, k, axis=1) for k in range(shape[2])], axis=-1)
    return n


def clip8(x) -> np.ndarray:
    return np.clip(x, 0, 255).astype(np.uint8)


def synth(H: int, W: int) -> np.ndarray:
    i, j = _ij(H, W)
    return ((i * 7 + j * 13 + (i * j) // 5) % 256).astype(np.uint8)


@lru_cache(maxsize=None)
def _camera() -> np.ndarray:
    from skimage import data

    cam = data.camera()
    assert cam.dtype == np.uint8 and cam.shape == (512, 512)
    cam.setflags(write=False)
    return cam


@lru_cache(maxsize=None)
def _astronaut() -> np.ndarray:
    from skimage import data

    ast = data.astronaut()
    assert ast.dtype == np.uint8 and ast.shape == (512, 512, 3)
    ast.setflags(write=False)
    return ast


def camera() -> np.ndarray:
    return _camera().copy()


def astronaut() -> np.ndarray:
    return _astronaut().copy()


def camera_meanshift() -> np.ndarray:
    return clip8(camera().astype(np.int64) + 20)


def camera_contrast() -> np.ndarray:
    cam = camera().astype(np.int64)
    return clip8(np.floor((cam - 128) * 6 / 5 + 128 + 0.5))


def camera_noise() -> np.ndarray:
    cam = camera().astype(np.int64)
    return clip8(cam + hnoise(cam.shape, 25))


def camera_box3() -> np.ndarray:
    """3x3 box with symmetric padding, rounded half up in integer arithmetic."""
    cam = camera().astype(np.int64)
    p = np.pad(cam, 1, mode="symmetric")
    H, W = cam.shape
    s = np.zeros_like(cam)
    for di in range(3):
        for dj in range(3):
            s += p[di : di + H, dj : dj + W]
    return clip8((s * 2 + 9) // 18)


def camera_inverted() -> np.ndarray:
    return (255 - camera().astype(np.int64)).astype(np.uint8)


def astronaut_noise() -> np.ndarray:
    ast = astronaut().astype(np.int64)
    return clip8(ast + hnoise(ast.shape, 25))


def synth_pair(H: int, W: int):
    a = synth(H, W)
    return a, clip8(a.astype(np.int64) + hnoise((H, W), 30))


# MATLAB rgb2gray weights (spec §1)
RGB2GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)


def rgb2gray_matlab_float(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2gray weighted sum in float64, no rounding. rgb is (H, W, 3)."""
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    return RGB2GRAY_WEIGHTS[0] * r + RGB2GRAY_WEIGHTS[1] * g + RGB2GRAY_WEIGHTS[2] * b


def rgb2gray_matlab_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2gray on uint8 input: weighted sum, then floor(Y + 0.5) back to uint8."""
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[-1] == 3
    return clip8(np.floor(rgb2gray_matlab_float(rgb) + 0.5))


# --------------------------------------------------------------------------------------
# 2. Oracle table (spec §10.3)
# --------------------------------------------------------------------------------------

NAN = float("nan")


@dataclass(frozen=True)
class Oracle:
    name: str
    shape: tuple  # (H, W)
    f: int  # ssim.m downsampling factor
    ssim_auto: float  # ssim.m
    ssim_index: float  # ssim_index.m
    msssim: float | None  # msssim.m; NaN = complex in MATLAB; None = n/a (< 176)
    psnr: float
    mse: float


ORACLES = (
    Oracle("camera_meanshift", (512, 512), 2, 0.9388060757, 0.9357669873, 0.9943916014, 22.1318238289, 398.0136604309),
    Oracle("camera_contrast", (512, 512), 2, 0.8414690307, 0.8323716406, 0.9680571571, 25.5830540897, 179.7938995361),
    Oracle("camera_noise", (512, 512), 2, 0.7272161007, 0.4550788249, 0.8557430085, 24.8984515073, 210.4918136597),
    Oracle("camera_box3", (512, 512), 2, 0.9636620828, 0.8495796708, 0.9799242483, 29.4491835113, 73.8179550171),
    Oracle("camera_inverted", (512, 512), 2, -0.1040878856, -0.0942594680, NAN, 4.7654063691, 21703.9971618652),
    Oracle("astronaut_noise", (512, 512), 2, 0.8083184178, 0.6266368081, 0.9386548934, 28.5770533526, 90.2350006104),
    Oracle("synth_64x64", (64, 64), 1, 0.9353228536, 0.9353228536, None, 23.4896808219, 291.1469726562),
    Oracle("synth_176x176", (176, 176), 1, 0.9651572369, 0.9651572369, 0.9797362577, 23.5105996467, 289.7479661674),
    Oracle("synth_257x301", (257, 301), 1, 0.9705701077, 0.9705701077, 0.9679774614, 23.4984567247, 290.5592383365),
    Oracle("synth_640x700", (640, 700), 3, 0.9423306679, 0.9734711512, 0.9539085927, 23.5039308456, 290.1932299107),
    Oracle("synth_1152x1200", (1152, 1200), 5, 0.9347011366, 0.9734269331, 0.9538131682, 23.4966105703, 290.6827792245),
)
ORACLES_BY_NAME = {o.name: o for o in ORACLES}

# The §10.3 values are printed with 10 decimals: anything closer than 5e-11 is rounding.
TABLE_ROUNDING = 5e-11

# Colour (per-channel, no luma) oracles for astronaut_noise (spec §10.3).
ASTRONAUT_RGB_SSIM_INDEX = 0.4926522109
ASTRONAUT_RGB_MSSSIM = 0.9148316298


def gray_pair(name: str):
    """The (reference, distorted) uint8 gray pair for a §10.3 row (RGB rows go through rgb2gray)."""
    if name.startswith("synth_"):
        H, W = (int(v) for v in name[len("synth_") :].split("x"))
        return synth_pair(H, W)
    if name == "astronaut_noise":
        return rgb2gray_matlab_uint8(astronaut()), rgb2gray_matlab_uint8(astronaut_noise())
    gen = {
        "camera_meanshift": camera_meanshift,
        "camera_contrast": camera_contrast,
        "camera_noise": camera_noise,
        "camera_box3": camera_box3,
        "camera_inverted": camera_inverted,
    }[name]
    return camera(), gen()


def rgb_pair():
    """astronaut / astronaut_noise as (H, W, 3) uint8."""
    return astronaut(), astronaut_noise()


# --------------------------------------------------------------------------------------
# 3. Independent float64 numpy reference (spec §1, Appendix A)
# --------------------------------------------------------------------------------------

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def matlab_round(x: float) -> int:
    """MATLAB round: half away from zero (Python's round is half-to-even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    r = (size - 1) / 2.0
    u = np.arange(size, dtype=np.float64) - r
    g = np.exp(-(u * u) / (2.0 * sigma * sigma))
    return g / g.sum()


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """fspecial('gaussian', size, sigma) (separable outer product, sums to 1)."""
    g = gaussian_1d(size, sigma)
    w = np.outer(g, g)
    return w / w.sum()


def corr1d_valid(z: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """'valid' correlation along one axis (accumulating shifted slices)."""
    z = np.moveaxis(np.asarray(z, dtype=np.float64), axis, -1)
    n = z.shape[-1] - k.size + 1
    if n < 1:
        raise ValueError("input smaller than the kernel")
    out = np.zeros(z.shape[:-1] + (n,), dtype=np.float64)
    for t, kt in enumerate(k):
        out += kt * z[..., t : t + n]
    return np.moveaxis(out, -1, axis)


def corr2d_valid(z: np.ndarray, k1d: np.ndarray) -> np.ndarray:
    """2-D 'valid' correlation of a 2-D array with the separable kernel outer(k1d, k1d)."""
    return corr1d_valid(corr1d_valid(z, k1d, 0), k1d, 1)


def corr2d_valid_full(z: np.ndarray, w2d: np.ndarray) -> np.ndarray:
    """Non-separable 2-D 'valid' correlation (for cross-checking the separable one)."""
    from scipy.signal import correlate2d

    return correlate2d(np.asarray(z, dtype=np.float64), w2d, mode="valid")


def lum_cs_maps(a: np.ndarray, b: np.ndarray, filt, C1: float, C2: float):
    """(luminance, contrast-structure) maps with population moments; ``filt``
    is the 'valid' weighted mean (separable or not)."""
    mu1 = filt(a)
    mu2 = filt(b)
    s11 = filt(a * a) - mu1 * mu1
    s22 = filt(b * b) - mu2 * mu2
    s12 = filt(a * b) - mu1 * mu2
    cs = (2.0 * s12 + C2) / (s11 + s22 + C2)
    lum = (2.0 * mu1 * mu2 + C1) / (mu1 * mu1 + mu2 * mu2 + C1)
    return lum, cs


def ssim_maps(a, b, L: float = 255.0, k1: float = 0.01, k2: float = 0.03, window_size: int = 11, sigma: float = 1.5):
    """(ssim_map, cs_map) on the 'valid' region with population moments (spec §1)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    g = gaussian_1d(window_size, sigma)
    lum, cs = lum_cs_maps(a, b, lambda z: corr2d_valid(z, g), (k1 * L) ** 2, (k2 * L) ** 2)
    return lum * cs, cs


def ssim_index(a, b, L: float = 255.0, **kw) -> float:
    """Wang ssim_index.m: mean SSIM over the valid region."""
    return float(np.mean(ssim_maps(a, b, L, **kw)[0]))


def box_same_symmetric(x: np.ndarray, f: int) -> np.ndarray:
    """imfilter(x, ones(f)/f^2, 'symmetric', 'same') with MATLAB's anchor."""
    x = np.asarray(x, dtype=np.float64)
    pre = (f + 1) // 2 - 1
    post = f - 1 - pre
    p = np.pad(x, ((pre, post), (pre, post)), mode="symmetric")
    H, W = x.shape
    s = np.zeros((H, W), dtype=np.float64)
    for di in range(f):
        for dj in range(f):
            s += p[di : di + H, dj : dj + W]
    return s / (f * f)


def downsample_factor(H: int, W: int) -> int:
    return max(1, matlab_round(min(H, W) / 256.0))


def ssim_auto(a, b, L: float = 255.0) -> float:
    """Wang ssim.m: MATLAB-round factor, box with imfilter anchor, [::f] decimation, valid SSIM."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    f = downsample_factor(*a.shape)
    if f > 1:
        a = box_same_symmetric(a, f)[::f, ::f]
        b = box_same_symmetric(b, f)[::f, ::f]
    return ssim_index(a, b, L)


def msssim_scales(a, b, L: float = 255.0, levels: int = 5):
    """Per-scale (mean ssim, mean cs) lists of msssim.m."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if min(a.shape) / 2 ** (levels - 1) < 11:
        raise ValueError("min side must be >= 176")
    mssim, mcs = [], []
    for _ in range(levels):
        s, c = ssim_maps(a, b, L)
        mssim.append(float(np.mean(s)))
        mcs.append(float(np.mean(c)))
        a = box_same_symmetric(a, 2)[::2, ::2]
        b = box_same_symmetric(b, 2)[::2, ::2]
    return mssim, mcs


def msssim_from_scales(mssim, mcs, weights=MSSSIM_WEIGHTS, negative: str = "nan") -> float:
    mcs = np.asarray(mcs[: len(weights) - 1], dtype=np.float64)
    last = float(mssim[len(weights) - 1])
    if negative == "relu":
        mcs = np.maximum(mcs, 0.0)
        last = max(last, 0.0)
    elif negative == "simple":
        mcs = (mcs + 1.0) / 2.0
        last = (last + 1.0) / 2.0
    w = np.asarray(weights, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        terms = np.power(mcs, w[:-1])
        lastt = np.power(last, w[-1])
    return float(np.prod(terms) * lastt)


def msssim(a, b, L: float = 255.0, weights=MSSSIM_WEIGHTS, negative: str = "nan") -> float:
    """Wang msssim.m (product method). Negative base with a fractional power -> NaN."""
    mssim, mcs = msssim_scales(a, b, L, levels=len(weights))
    return msssim_from_scales(mssim, mcs, weights, negative)


def mse(a, b) -> float:
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(np.mean(d * d))


def psnr(a, b, L: float = 255.0) -> float:
    m = mse(a, b)
    return math.inf if m == 0 else 10.0 * math.log10(L * L / m)


# ---- per-channel helpers for (H, W, C) arrays ---------------------------------------------


def ssim_index_rgb(a, b, L: float = 255.0) -> float:
    return float(np.mean([ssim_index(a[..., c], b[..., c], L) for c in range(a.shape[-1])]))


def msssim_rgb(a, b, L: float = 255.0, **kw) -> float:
    return float(np.mean([msssim(a[..., c], b[..., c], L, **kw) for c in range(a.shape[-1])]))


# ---- spec §5 (TV) and §6 (mix loss) references, for test_metrics_misc.py -------------------


def tv_numpy(x: np.ndarray, norm: str = "l1", reduction: str = "sum", eps: float = 0.0) -> float:
    """TV of one (C, H, W) image, summed over channels, by explicit loops over differences."""
    x = np.asarray(x, dtype=np.float64)
    C, H, W = x.shape
    total = 0.0
    count = 0
    if norm in ("l1", "l2_squared"):
        p = 1 if norm == "l1" else 2
        for c in range(C):
            for i in range(H - 1):
                for j in range(W):
                    total += abs(x[c, i + 1, j] - x[c, i, j]) ** p
                    count += 1
            for i in range(H):
                for j in range(W - 1):
                    total += abs(x[c, i, j + 1] - x[c, i, j]) ** p
                    count += 1
    elif norm == "isotropic":
        for c in range(C):
            for i in range(H - 1):
                for j in range(W - 1):
                    dh = x[c, i + 1, j] - x[c, i, j]
                    dw = x[c, i, j + 1] - x[c, i, j]
                    total += math.sqrt(dh * dh + dw * dw + eps)
                    count += 1
    else:
        raise ValueError(norm)
    return total / count if reduction == "mean" else total


def corr2d_same_zero(z: np.ndarray, w2d: np.ndarray) -> np.ndarray:
    """Zero-padded 'same' 2-D correlation (TF 'blog' mix loss convention)."""
    from scipy.signal import correlate2d

    return correlate2d(np.asarray(z, dtype=np.float64), w2d, mode="same", boundary="fill", fillvalue=0.0)


def mix_ssim_l1(x: np.ndarray, y: np.ndarray, data_range: float, alpha: float = 0.84) -> float:
    """Spec §6 'blog TF version' on one (C, H, W) image pair, evaluated per channel and averaged.

    alpha * (1 - mean(clip(SSIM map, 0, 1))) + (1 - alpha) * mean(G11,1.5 * |x - y|), where every
    moment is zero-padded 'same' filtered, data scaled by data_range to [0, 1] (so L = 1).
    """
    x = np.asarray(x, dtype=np.float64) / data_range
    y = np.asarray(y, dtype=np.float64) / data_range
    w = gaussian_window(11, 1.5)
    C1, C2 = 0.01**2, 0.03**2
    smaps, l1maps = [], []
    for c in range(x.shape[0]):
        a, b = x[c], y[c]
        mu1 = corr2d_same_zero(a, w)
        mu2 = corr2d_same_zero(b, w)
        s11 = corr2d_same_zero(a * a, w) - mu1 * mu1
        s22 = corr2d_same_zero(b * b, w) - mu2 * mu2
        s12 = corr2d_same_zero(a * b, w) - mu1 * mu2
        s = ((2 * mu1 * mu2 + C1) * (2 * s12 + C2)) / ((mu1**2 + mu2**2 + C1) * (s11 + s22 + C2))
        smaps.append(np.clip(s, 0.0, 1.0))
        l1maps.append(corr2d_same_zero(np.abs(a - b), w))
    return float(alpha * (1.0 - np.mean(smaps)) + (1.0 - alpha) * np.mean(l1maps))


ZHAO_SIGMAS = (0.5, 1.0, 2.0, 4.0, 8.0)
ZHAO_SIZE = 33


def mix_zhao_maps(x: np.ndarray, y: np.ndarray, data_range: float):
    """Spec §6 recommendation 1 on one (C, H, W) pair: per-channel (l5 * prod cs, G8 * |x-y| / L) valid maps.

    Uses the non-separable scipy correlation (a different code path from the separable one above).
    """
    x = np.asarray(x, dtype=np.float64) / data_range
    y = np.asarray(y, dtype=np.float64) / data_range
    C1, C2 = 0.01**2, 0.03**2
    ms_maps, l1_maps = [], []
    for c in range(x.shape[0]):
        a, b = x[c], y[c]
        prod_cs = None
        lum = None
        for sigma in ZHAO_SIGMAS:
            w = gaussian_window(ZHAO_SIZE, sigma)
            lum, cs = lum_cs_maps(a, b, lambda z: corr2d_valid_full(z, w), C1, C2)
            prod_cs = cs if prod_cs is None else prod_cs * cs
        ms_maps.append(lum * prod_cs)
        l1_maps.append(corr2d_valid_full(np.abs(a - b), gaussian_window(ZHAO_SIZE, ZHAO_SIGMAS[-1])))
    return np.stack(ms_maps), np.stack(l1_maps)


def mix_zhao(x: np.ndarray, y: np.ndarray, data_range: float, alpha: float = 0.84) -> float:
    ms, l1 = mix_zhao_maps(x, y, data_range)
    return float(np.mean(alpha * (1.0 - ms) + (1.0 - alpha) * l1))
