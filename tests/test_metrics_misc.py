"""TV, colour helpers, mix loss, PSNR/MSE edge cases, batching, gradients and CPU/CUDA agreement.

Every expected value comes from an independent numpy evaluation of the spec's
definition (``oracles.py``) or from the spec's own tables (§5 for TV).
"""

from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracles as O  # noqa: E402

from iqa_cli import (  # noqa: E402
    MixLoss,
    MSSSIMLoss,
    SSIMLoss,
    TVLoss,
    mix_loss,
    ms_ssim,
    mse,
    psnr,
    rgb_to_gray_matlab,
    rgb_to_y_bt601,
    rgb_to_y_yiq,
    ssim,
    total_variation,
)



def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _rand(shape, seed=0, lo=0.0, hi=1.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (lo + (hi - lo) * torch.rand(shape, generator=g, dtype=torch.float64)).to(dtype)


def _smooth_pair(shape, seed=0, noise=0.05):
    """A smooth image in [0.1, 0.9] and a correlated noisy copy (positive cs at every scale)."""
    g = torch.Generator().manual_seed(seed)
    N, C, H, W = shape
    base = torch.rand((N, C, max(2, H // 8), max(2, W // 8)), generator=g, dtype=torch.float64)
    x = torch.nn.functional.interpolate(base, size=(H, W), mode="bilinear", align_corners=False)
    x = 0.1 + 0.8 * x
    y = (x + noise * (torch.rand(shape, generator=g, dtype=torch.float64) - 0.5)).clamp(0, 1)
    return x, y


def _camera01(size=None):
    cam = O.camera().astype(np.float64) / 255.0
    if size is not None:
        cam = cam[:size, :size]
    return torch.from_numpy(np.ascontiguousarray(cam))[None, None]


# ======================================================================================
# Total variation (spec §5)
# ======================================================================================

EX3 = [[1, 2, 3], [2, 3, 4], [3, 4, 5]]

# (image, norm) -> value from the spec §5 table
TV_TABLE = [
    ("3x3", "l1", 12.0),
    ("3x3", "isotropic", 4 * math.sqrt(2)),  # 5.6569
    ("3x3", "l2_squared", 12.0),
    ("eye10", "l1", 36.0),
    ("eye10", "isotropic", 28.728),
    ("eye10", "l2_squared", 36.0),
]


def _tv_image(name):
    a = np.array(EX3, dtype=np.float64) if name == "3x3" else np.eye(10)
    return torch.from_numpy(a)[None, None]


@pytest.mark.parametrize("name,norm,want", TV_TABLE)
def test_tv_spec_table(name, norm, want):
    x = _tv_image(name)
    v = total_variation(x, norm=norm)  # default eps = 0: the exact value
    assert v.shape == (1,)
    # the spec prints 4 (3x3) or 3 (eye10) decimals
    assert abs(float(v[0]) - want) <= (5e-4 if name == "eye10" else 5e-5), float(v[0])
    # and the numpy loop reference gives the same exactly
    assert abs(float(v[0]) - O.tv_numpy(_np(x[0]), norm)) <= 1e-12


def test_tv_default_is_tf_total_variation():
    """Default (l1, sum) equals tf.image.total_variation: sum |dh| + sum |dw| over H, W and C."""
    x = _rand((2, 3, 9, 11), seed=1)
    a = _np(x)
    want = np.abs(np.diff(a, axis=2)).sum(axis=(1, 2, 3)) + np.abs(np.diff(a, axis=3)).sum(axis=(1, 2, 3))
    v = total_variation(x)
    assert v.shape == (2,)
    assert np.max(np.abs(_np(v) - want)) <= 1e-12


@pytest.mark.parametrize("norm", ["l1", "isotropic", "l2_squared"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_tv_random_vs_numpy(norm, reduction):
    x = _rand((3, 2, 7, 9), seed=2)
    v = total_variation(x, norm=norm, reduction=reduction)
    assert v.shape == (3,)
    want = [O.tv_numpy(_np(x[n]), norm, reduction) for n in range(3)]
    assert np.max(np.abs(_np(v) - want)) <= 1e-12
    if norm == "isotropic":  # eps goes inside the square root
        v = total_variation(x, norm=norm, reduction=reduction, eps=1e-3)
        want = [O.tv_numpy(_np(x[n]), norm, reduction, eps=1e-3) for n in range(3)]
        assert np.max(np.abs(_np(v) - want)) <= 1e-12


def test_tv_mean_divides_by_number_of_terms():
    x = _rand((1, 3, 6, 8), seed=3)
    C, H, W = 3, 6, 8
    n_l1 = C * ((H - 1) * W + H * (W - 1))
    n_iso = C * (H - 1) * (W - 1)
    for norm, n in (("l1", n_l1), ("l2_squared", n_l1), ("isotropic", n_iso)):
        s = float(total_variation(x, norm=norm, reduction="sum")[0])
        m = float(total_variation(x, norm=norm, reduction="mean")[0])
        assert abs(m - s / n) <= 1e-14 * max(1.0, s)


@pytest.mark.parametrize("eps", [0.0, 1e-8])
def test_tv_isotropic_finite_gradient_on_flat_image(eps):
    x = torch.full((1, 1, 6, 6), 0.5, dtype=torch.float64)
    x[0, 0, 3:, 3:] = 0.9  # flat regions plus one step
    x.requires_grad_(True)
    v = total_variation(x, norm="isotropic", eps=eps)
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    # with eps = 1e-8 the 3x3 spec value stays 4*sqrt(2) to 1e-7
    got = float(total_variation(_tv_image("3x3"), norm="isotropic", eps=eps)[0])
    assert abs(got - 4 * math.sqrt(2)) < 1e-7


def test_tv_directional_mean_is_common_tvloss():
    """TVLoss(norm='l2_squared', tv_reduction='directional_mean', weight=2): spec §5 table, 4.0 and 0.8."""
    loss = TVLoss(norm="l2_squared", tv_reduction="directional_mean", weight=2.0)
    assert abs(float(loss(_tv_image("3x3"))) - 4.0) <= 1e-12
    assert abs(float(loss(_tv_image("eye10"))) - 0.8) <= 1e-12
    x = _rand((2, 3, 5, 6), seed=17)
    a = _np(x)
    ch = 3 * 4 * 6
    cw = 3 * 5 * 5
    want = (np.diff(a, axis=2) ** 2).sum(axis=(1, 2, 3)) / ch + (np.diff(a, axis=3) ** 2).sum(axis=(1, 2, 3)) / cw
    v = total_variation(x, norm="l2_squared", reduction="directional_mean")
    assert np.max(np.abs(_np(v) - want)) <= 1e-12


def test_tv_of_scaled_camera_default_units():
    """The registry's tv (mean reduction on [0,1]) equals the numpy mean absolute gradient."""
    x = _camera01()
    a = _np(x)[0, 0]
    terms = np.concatenate([np.abs(np.diff(a, axis=0)).ravel(), np.abs(np.diff(a, axis=1)).ravel()])
    assert abs(float(total_variation(x, reduction="mean")[0]) - terms.mean()) <= 1e-12
    assert abs(float(total_variation(x)[0]) - terms.sum()) <= 1e-8


# ======================================================================================
# Colour helpers (spec §1, §7)
# ======================================================================================


def _rgb_u8(seed=4, shape=(2, 3, 5, 7)):
    g = np.random.default_rng(seed)
    return g.integers(0, 256, size=shape).astype(np.float64)


def test_rgb_to_y_yiq_formula():
    a = _rgb_u8()
    y = rgb_to_y_yiq(torch.from_numpy(a))
    want = 0.299 * a[:, 0] + 0.587 * a[:, 1] + 0.114 * a[:, 2]
    assert y.shape == (2, 1, 5, 7)
    assert np.max(np.abs(_np(y)[:, 0] - want)) <= 1e-12


@pytest.mark.parametrize("L", [255.0, 1.0, 65535.0])
def test_rgb_to_gray_matlab_formula(L):
    a = _rgb_u8() / 255.0 * L
    y = rgb_to_gray_matlab(torch.from_numpy(a))
    w = O.RGB2GRAY_WEIGHTS
    want = w[0] * a[:, 0] + w[1] * a[:, 1] + w[2] * a[:, 2]
    assert y.shape == (2, 1, 5, 7)
    assert np.max(np.abs(_np(y)[:, 0] - want)) <= 1e-12 * L


def test_rgb2gray_uint8_rounding_matches_matlab():
    """MATLAB rgb2gray on uint8: floor(Y + 0.5). Checked on the astronaut image and corner cases."""
    ast = O.astronaut()
    g_ref = O.rgb2gray_matlab_uint8(ast)
    x = torch.from_numpy(np.moveaxis(ast, -1, 0)[None].astype(np.float64))
    g = rgb_to_gray_matlab(x, round=True)
    assert np.array_equal(_np(g)[0, 0], g_ref.astype(np.float64))
    # float32 input (what a loader gives) rounds the same way
    g32 = rgb_to_gray_matlab(x.float(), round=True)
    assert np.array_equal(_np(g32)[0, 0], g_ref.astype(np.float64))
    # the rounding matters: unrounded and rounded images differ
    g_float = rgb_to_gray_matlab(x)
    assert not np.array_equal(_np(g_float)[0, 0], g_ref.astype(np.float64))
    assert np.max(np.abs(_np(g_float)[0, 0] - O.rgb2gray_matlab_float(ast))) <= 1e-12
    # every 8-bit grey level on the diagonal maps to itself; a few hand-checked colours
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [200, 100, 50]]], dtype=np.uint8)
    t = torch.from_numpy(np.moveaxis(rgb, -1, 0)[None].astype(np.float64))
    assert _np(rgb_to_gray_matlab(t, round=True))[0, 0, 0].tolist() == O.rgb2gray_matlab_uint8(rgb)[0].tolist()
    levels = torch.arange(256, dtype=torch.float64).reshape(1, 1, 16, 16).expand(1, 3, 16, 16)
    assert torch.equal(rgb_to_gray_matlab(levels, round=True)[0, 0], levels[0, 0])


def test_rgb_to_y_bt601_and_yiq_round():
    a = _rgb_u8(seed=18, shape=(1, 3, 16, 16))
    t = torch.from_numpy(a)
    y601 = 16 + (65.481 * a[:, 0] + 128.553 * a[:, 1] + 24.966 * a[:, 2]) / 255
    yiq = 0.299 * a[:, 0] + 0.587 * a[:, 1] + 0.114 * a[:, 2]
    assert np.array_equal(_np(rgb_to_y_bt601(t, 255.0, round=True))[:, 0], np.floor(y601 + 0.5))
    assert np.array_equal(_np(rgb_to_y_yiq(t, round=True))[:, 0], np.floor(yiq + 0.5))


@pytest.mark.parametrize("L", [255.0, 1.0])
def test_rgb_to_y_bt601_formula(L):
    a = _rgb_u8() / 255.0 * L
    y = rgb_to_y_bt601(torch.from_numpy(a), L)
    want = 16.0 / 255.0 * L + (65.481 * a[:, 0] + 128.553 * a[:, 1] + 24.966 * a[:, 2]) / 255.0
    assert y.shape == (2, 1, 5, 7)
    assert np.max(np.abs(_np(y)[:, 0] - want)) <= 1e-12 * max(L, 1.0)
    # range [16, 235] on the 8-bit scale
    lo = rgb_to_y_bt601(torch.zeros(1, 3, 1, 1, dtype=torch.float64), L)
    hi = rgb_to_y_bt601(torch.full((1, 3, 1, 1), L, dtype=torch.float64), L)
    assert abs(float(lo) - 16 / 255 * L) <= 1e-12 * L and abs(float(hi) - 235 / 255 * L) <= 1e-9 * L


# ======================================================================================
# PSNR / MSE
# ======================================================================================


def test_psnr_identical_is_inf_and_mse_zero():
    x = _rand((2, 3, 16, 16), seed=5)
    p = psnr(x, x.clone(), 1.0)
    assert p.shape == (2,) and torch.isinf(p).all() and (p > 0).all()
    assert (mse(x, x.clone()) == 0).all()


def test_psnr_mse_per_image_not_pooled():
    x = torch.zeros(2, 1, 10, 10, dtype=torch.float64)
    y = x.clone()
    y[0] += 0.1  # MSE 0.01 -> 20 dB
    y[1] += 0.01  # MSE 1e-4 -> 40 dB
    p = psnr(x, y, 1.0)
    assert np.allclose(_np(p), [20.0, 40.0], atol=1e-9, rtol=0)
    assert np.allclose(_np(mse(x, y)), [0.01, 1e-4], atol=1e-15, rtol=1e-12)


def test_psnr_mse_16bit():
    a = (O.camera().astype(np.int64) * 257).astype(np.uint16)
    b = np.clip(a.astype(np.int64) + O.hnoise(a.shape, 3000), 0, 65535).astype(np.uint16)
    x = torch.from_numpy(a.astype(np.float64))[None, None]
    y = torch.from_numpy(b.astype(np.float64))[None, None]
    m_ref = O.mse(a, b)
    assert abs(float(mse(x, y)[0]) - m_ref) <= 1e-12 * m_ref
    assert abs(float(psnr(x, y, 65535.0)[0]) - O.psnr(a, b, 65535.0)) <= 1e-9
    # float32 input of 16-bit integers is exact, so the default call still meets 1e-6 dB
    assert abs(float(psnr(x.float(), y.float(), 65535.0)[0]) - O.psnr(a, b, 65535.0)) <= 1e-6


# ======================================================================================
# Mix loss (spec §6)
# ======================================================================================


def test_mix_ssim_l1_vs_numpy():
    x, y = _smooth_pair((2, 3, 30, 34), seed=6, noise=0.3)
    for alpha in (0.84, 0.0, 1.0, 0.5):
        v = mix_loss(x, y, 1.0, alpha=alpha, variant="ssim-l1")
        assert v.shape == (2,)
        want = [O.mix_ssim_l1(_np(x[n]), _np(y[n]), 1.0, alpha) for n in range(2)]
        assert np.max(np.abs(_np(v) - want)) <= 1e-10, (alpha, _np(v), want)


def test_mix_ssim_l1_data_range_scaling():
    x, y = _smooth_pair((1, 1, 24, 24), seed=7, noise=0.4)
    v1 = mix_loss(x, y, 1.0, variant="ssim-l1")
    v255 = mix_loss(x * 255.0, y * 255.0, 255.0, variant="ssim-l1")
    want = O.mix_ssim_l1(_np(x[0]) * 255.0, _np(y[0]) * 255.0, 255.0)
    assert abs(float(v255[0]) - want) <= 1e-10
    assert abs(float(v1[0]) - float(v255[0])) <= 1e-10


def test_mix_ssim_l1_anticorrelated_clips_ssim_at_zero():
    x = _camera01(64)
    y = 1.0 - x
    want = O.mix_ssim_l1(_np(x[0]), _np(y[0]), 1.0, 0.84)
    assert abs(float(mix_loss(x, y, 1.0, variant="ssim-l1")[0]) - want) <= 1e-10


@pytest.mark.parametrize("variant", ["zhao", "ssim-l1"])
def test_mix_identical_is_zero(variant):
    x, _ = _smooth_pair((2, 3, 40, 40), seed=8)
    v = mix_loss(x, x.clone(), 1.0, variant=variant)
    assert v.shape == (2,)
    assert float(v.abs().max()) <= 1e-12


def test_mix_default_is_zhao_alpha_084():
    x, y = _smooth_pair((1, 2, 40, 44), seed=9, noise=0.2)
    assert torch.equal(mix_loss(x, y, 1.0), mix_loss(x, y, 1.0, alpha=0.84, variant="zhao"))


@pytest.mark.parametrize("alpha", [0.84, 1.0, 0.0, 0.3])
def test_mix_zhao_vs_numpy(alpha):
    x, y = _smooth_pair((2, 3, 40, 44), seed=10, noise=0.3)
    v = mix_loss(x, y, 1.0, alpha=alpha, variant="zhao")
    assert v.shape == (2,)
    want = [O.mix_zhao(_np(x[n]), _np(y[n]), 1.0, alpha) for n in range(2)]
    assert np.max(np.abs(_np(v) - want)) <= 1e-10, (_np(v), want)


def test_mix_zhao_limits():
    """alpha=1 -> mean(1 - l5 * prod cs_j); alpha=0 -> G8-weighted L1 / data_range (valid region)."""
    x, y = _smooth_pair((1, 3, 36, 40), seed=11, noise=0.3)
    ms, l1 = O.mix_zhao_maps(_np(x[0]), _np(y[0]), 1.0)
    assert ms.shape == (3, 4, 8) and l1.shape == (3, 4, 8)  # 16 px cropped per side
    assert abs(float(mix_loss(x, y, 1.0, alpha=1.0)[0]) - float(np.mean(1 - ms))) <= 1e-10
    assert abs(float(mix_loss(x, y, 1.0, alpha=0.0)[0]) - float(np.mean(l1))) <= 1e-10
    # on the 0..255 scale with data_range 255 the value is the same
    v255 = mix_loss(x * 255, y * 255, 255.0, alpha=0.0)
    assert abs(float(v255[0]) - float(np.mean(l1))) <= 1e-10


# ======================================================================================
# per-image independence in a batch
# ======================================================================================


def _batch_calls():
    return {
        "ssim": lambda x, y: ssim(x, y, 1.0),
        "ssim_matlab": lambda x, y: ssim(x, y, 1.0, downsample="matlab"),
        "ms_ssim": lambda x, y: ms_ssim(x, y, 1.0),
        "mse": lambda x, y: mse(x, y),
        "psnr": lambda x, y: psnr(x, y, 1.0),
        "tv": lambda x, y: total_variation(x),
        "tv_iso_mean": lambda x, y: total_variation(x, norm="isotropic", reduction="mean"),
        "mix_zhao": lambda x, y: mix_loss(x, y, 1.0),
        "mix_ssim_l1": lambda x, y: mix_loss(x, y, 1.0, variant="ssim-l1"),
    }


@pytest.mark.parametrize("fn", list(_batch_calls()))
def test_batch_items_are_independent(fn):
    call = _batch_calls()[fn]
    # MS-SSIM needs 176 px; ssim.m downsampling needs >= 384 px to do anything (f = 2)
    shape = {"ms_ssim": (1, 2, 176, 181), "ssim_matlab": (1, 1, 384, 390)}.get(fn, (1, 3, 48, 53))
    x = torch.cat([_smooth_pair(shape, seed=s, noise=0.1 * (s + 1))[0] for s in range(3)])
    y = torch.cat([_smooth_pair(shape, seed=s, noise=0.1 * (s + 1))[1] for s in range(3)])
    together = call(x, y)
    assert together.shape == (3,)
    alone = torch.cat([call(x[n : n + 1], y[n : n + 1]) for n in range(3)])
    assert torch.allclose(together, alone, atol=1e-12, rtol=0), (together, alone)
    assert len(set(_np(together).round(10).tolist())) == 3  # the three images really differ


# ======================================================================================
# Losses: reductions, defaults, gradients
# ======================================================================================


def _losses():
    return {
        "SSIMLoss": lambda: SSIMLoss(data_range=1.0),
        "MSSSIMLoss": lambda: MSSSIMLoss(data_range=1.0),
        "MixLoss": lambda: MixLoss(data_range=1.0),
        "MixLoss-ssim-l1": lambda: MixLoss(data_range=1.0, variant="ssim-l1"),
        "TVLoss": lambda: TVLoss(),
    }


def _is_tv(name):
    return name.startswith("TV")


def _call(loss, name, x, y):
    return loss(x) if _is_tv(name) else loss(x, y)


def _min_side(name):
    return 176 if name == "MSSSIMLoss" else 40


@pytest.mark.parametrize("name", list(_losses()))
def test_loss_reductions_and_value(name):
    n = _min_side(name)
    x, y = _smooth_pair((3, 2, n, n + 4), seed=12, noise=0.2)
    losses = {r: _call(_make_loss(name, reduction=r), name, x, y) for r in ("none", "mean", "sum")}
    assert losses["none"].shape == (3,)
    assert losses["mean"].shape == () and losses["sum"].shape == ()
    assert torch.allclose(losses["mean"], losses["none"].mean(), atol=1e-14)
    assert torch.allclose(losses["sum"], losses["none"].sum(), atol=1e-13)
    # default reduction is mean
    assert torch.allclose(_call(_losses()[name](), name, x, y), losses["mean"], atol=1e-14)
    # loss = 1 - similarity for the similarity losses
    if name == "SSIMLoss":
        want = 1 - ssim(x, y, 1.0)
    elif name == "MSSSIMLoss":
        want = 1 - ms_ssim(x, y, 1.0, negative="relu")
    elif name == "MixLoss":
        want = mix_loss(x, y, 1.0, alpha=0.84, variant="zhao")
    elif name == "MixLoss-ssim-l1":
        want = mix_loss(x, y, 1.0, alpha=0.84, variant="ssim-l1")
    else:
        want = total_variation(x, norm="l1", reduction="mean")  # TVLoss default: l1 per difference term
    assert torch.allclose(losses["none"].double(), want.double(), atol=1e-12, rtol=0)


def _make_loss(name, **extra):
    cls = {"SSIMLoss": SSIMLoss, "MSSSIMLoss": MSSSIMLoss, "MixLoss": MixLoss,
           "MixLoss-ssim-l1": MixLoss, "TVLoss": TVLoss}[name]
    kw = {} if _is_tv(name) else {"data_range": 1.0}
    if name == "MixLoss-ssim-l1":
        kw["variant"] = "ssim-l1"
    kw.update(extra)
    return cls(**kw)


@pytest.mark.parametrize("requires_grad", [True, False])
@pytest.mark.parametrize("name", list(_losses()))
def test_loss_has_its_inputs_dtype(name, requires_grad):
    """A float32 batch gets a float32 loss (TVLoss always did; the others returned
    float64), computed in float64 inside: the same number to float32's precision,
    and the gradient still reaches the input."""
    n = _min_side(name)
    x64, y64 = _smooth_pair((2, 1, n, n + 3), seed=17, noise=0.2)
    x = x64.float().requires_grad_(requires_grad)
    y = y64.float()
    v = _call(_losses()[name](), name, x, y)
    assert v.dtype == torch.float32, v.dtype
    ref = _call(_losses()[name](), name, x.detach().double(), y.double())
    assert ref.dtype == torch.float64 and abs(float(v.detach()) - float(ref)) <= 1e-6
    if requires_grad:
        v.backward()
        assert x.grad is not None and x.grad.dtype == torch.float32 and float(x.grad.abs().sum()) > 0


@pytest.mark.parametrize("call", ["ssim", "ms_ssim", "mix_loss", "SSIMLoss", "ssim_matlab"])
def test_channels_last_input_gets_a_layout_hint(call):
    """An (N, H, W, C) tensor (numpy/PIL layout) read as (N, C, H, W) used to fail with
    "smaller than the 11x11 window": the one-line error now says how to permute."""
    x = torch.rand((2, 190, 180, 3) if call == "ms_ssim" else (2, 64, 48, 3))  # N, H, W, C
    fns = {
        "ssim": lambda a: ssim(a, a, 1.0),
        "ms_ssim": lambda a: ms_ssim(a, a, 1.0),
        "mix_loss": lambda a: mix_loss(a, a, 1.0),
        "SSIMLoss": lambda a: SSIMLoss()(a, a),
        "ssim_matlab": lambda a: ssim(a, a, 1.0, downsample="matlab"),
    }
    with pytest.raises(ValueError) as err:
        fns[call](x)
    msg = str(err.value)
    assert "\n" not in msg and "channels-last" in msg and "x.permute(0, 3, 1, 2)" in msg and str(tuple(x.shape)) in msg
    assert float(fns[call](x.permute(0, 3, 1, 2)).min()) >= 0  # the permuted tensor is scored


def test_small_images_that_do_not_look_channels_last_keep_their_message():
    for shape in [(1, 3, 8, 8), (1, 1, 64, 3), (1, 2, 5, 5)]:  # dim 1 not larger than a last dim of 1-4
        x = torch.rand(shape)
        with pytest.raises(ValueError, match="smaller than the 11x11") as err:
            ssim(x, x, 1.0)
        assert "channels-last" not in str(err.value)
    with pytest.raises(ValueError, match="MS-SSIM needs images of at least 176x176"):
        ms_ssim(torch.rand(1, 3, 100, 100), torch.rand(1, 3, 100, 100), 1.0)


def test_msssim_loss_defaults_to_relu_on_anticorrelated_camera():
    x = _camera01().float()
    y = 1.0 - x
    loss = MSSSIMLoss(data_range=1.0)
    v = loss(x, y)
    assert torch.isfinite(v).all()
    assert abs(float(v) - 1.0) <= 1e-6  # ReLU-clamped MS-SSIM is 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(float(ms_ssim(x.double(), y.double(), 1.0)[0]))  # metric mode stays NaN


# gradcheck sizes: the smallest each loss accepts (SSIM 11 px, zhao mix 33 px, MS-SSIM 176 px).
# Full (slow-mode) Jacobians on the small ones; fast_mode (random projections) for the zhao mix
# (five 33x33 Gaussians per evaluation) and MS-SSIM; MS-SSIM also gets a coordinate FD check below.
GRADCHECK = {
    "SSIMLoss": ((1, 1, 12, 13), False),
    "MixLoss": ((1, 1, 34, 35), True),
    "MixLoss-ssim-l1": ((1, 1, 12, 13), False),
    "TVLoss": ((1, 2, 8, 9), False),
    "MSSSIMLoss": ((1, 1, 176, 178), True),
}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_loss_gradcheck_float64(name):
    shape, fast = GRADCHECK[name]
    if _is_tv(name):
        x = _rand(shape, seed=13)  # differences far from 0: |.| is smooth there
        x.requires_grad_(True)
        for norm in ("l1", "isotropic", "l2_squared"):
            loss = TVLoss(norm=norm)
            assert torch.autograd.gradcheck(lambda a: loss(a), (x,), eps=1e-6, atol=1e-6)
        return
    x, y = _smooth_pair(shape, seed=13, noise=0.2)
    y = 0.5 * y + 0.5 * _rand(shape, seed=14, lo=0.1, hi=0.9)  # texture everywhere
    loss = _losses()[name]()
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b), (x, y), eps=1e-6, atol=1e-6, fast_mode=fast)


def test_msssim_loss_finite_difference_on_coordinates():
    """Full-size MS-SSIM: analytic gradient vs central differences on a few coordinates."""
    x, y = _smooth_pair((1, 1, 180, 184), seed=15, noise=0.2)
    y = 0.5 * y + 0.5 * _rand(y.shape, seed=19, lo=0.1, hi=0.9)
    loss = MSSSIMLoss(data_range=1.0)
    xg = x.clone().requires_grad_(True)
    loss(xg, y).backward()
    h = 1e-6
    for (i, j) in [(0, 0), (5, 7), (90, 91), (179, 183), (100, 3)]:
        xp, xm = x.clone(), x.clone()
        xp[0, 0, i, j] += h
        xm[0, 0, i, j] -= h
        fd = (float(loss(xp, y)) - float(loss(xm, y))) / (2 * h)
        an = float(xg.grad[0, 0, i, j])
        assert abs(fd - an) <= 1e-6 + 1e-4 * abs(fd), ((i, j), fd, an)


def _inputs_for(name, kind):
    n = _min_side(name)
    x, _ = _smooth_pair((2, 2, n, n + 2), seed=16)
    if kind == "identical":
        return x, x.clone()
    return x, 1.0 - x


@pytest.mark.parametrize("kind", ["identical", "anticorrelated"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(_losses()))
def test_loss_gradients_finite(name, kind, dtype):
    x, y = _inputs_for(name, kind)
    x = x.to(dtype).requires_grad_(True)
    y = y.to(dtype).requires_grad_(True)
    loss = _losses()[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = _call(loss, name, x, y)
    assert torch.isfinite(v).all(), float(v)
    v.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    if not _is_tv(name):
        assert y.grad is not None and torch.isfinite(y.grad).all()
        if kind == "identical":
            assert abs(float(v.detach())) <= 1e-6


def test_loss_gradients_finite_on_constant_images():
    """Zero variance everywhere (flat images): C1, C2 keep every denominator positive."""
    x = torch.full((1, 1, 180, 180), 0.3, dtype=torch.float64, requires_grad=True)
    y = torch.full((1, 1, 180, 180), 0.7, dtype=torch.float64, requires_grad=True)
    for name, make in _losses().items():
        x.grad = None
        y.grad = None
        v = _call(make(), name, x, y)
        v.backward()
        assert torch.isfinite(v) and torch.isfinite(x.grad).all(), name


# ======================================================================================
# CPU vs CUDA
# ======================================================================================


def _precision_calls(precision):
    kw = {"precision": precision}
    return {
        "ssim": lambda p, q: ssim(p, q, 1.0, **kw),
        "ssim_matlab": lambda p, q: ssim(p, q, 1.0, downsample="matlab", **kw),
        "ms_ssim": lambda p, q: ms_ssim(p, q, 1.0, **kw),
        "ms_ssim_relu_inverted": lambda p, q: ms_ssim(p, 1.0 - p, 1.0, negative="relu", **kw),
        "mix_zhao": lambda p, q: mix_loss(p, q, 1.0, **kw),
        "mix_ssim_l1": lambda p, q: mix_loss(p, q, 1.0, variant="ssim-l1", **kw),
        "mse": lambda p, q: mse(p, q),
        "psnr": lambda p, q: psnr(p, q, 1.0),
        "tv": lambda p, q: total_variation(p),
        "tv_iso_mean": lambda p, q: total_variation(p, norm="isotropic", reduction="mean"),
        "gray_matlab": lambda p, q: rgb_to_gray_matlab(p.expand(-1, 3, -1, -1)).mean(dim=(1, 2, 3)),
    }


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["auto", "single", "double"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_cuda_agreement(dtype, precision):
    """Every metric within 1e-6 between CPU and CUDA (camera pairs scaled to [0, 1]).

    Note: with precision="auto" a float32 CUDA input is computed in float32 while the CPU
    computes in float64, so that case also measures the float32 path's own error.
    """
    a, b = O.gray_pair("camera_noise")
    x = torch.from_numpy(np.stack([a, O.camera_box3()]).astype(np.float64))[:, None] / 255.0
    y = torch.from_numpy(np.stack([b, O.camera()]).astype(np.float64))[:, None] / 255.0
    x, y = x.to(dtype), y.to(dtype)
    bad = []
    for name, call in _precision_calls(precision).items():
        cpu = call(x, y).double()
        gpu = call(x.cuda(), y.cuda()).double().cpu()
        assert cpu.shape == gpu.shape == (2,), name
        err = float((cpu - gpu).abs().max())
        if not err <= 1e-6:
            bad.append(f"{name}: max |cpu - cuda| = {err:.3e}")
    for name, make in _losses().items():
        xc = x.detach().clone().requires_grad_(True)
        vc = _call(make(), name, xc, y)
        vc.backward()
        xg = x.cuda().detach().requires_grad_(True)
        vg = _call(make().cuda(), name, xg, y.cuda())
        vg.backward()
        err = abs(float(vc.detach()) - float(vg.detach()))
        if not err <= 1e-6:
            bad.append(f"{name} loss: |cpu - cuda| = {err:.3e}")
        gerr = float((xc.grad.double() - xg.grad.double().cpu()).abs().max())
        gscale = float(xc.grad.double().abs().max())
        if not gerr <= 1e-6 + 1e-4 * gscale:
            bad.append(f"{name} grad: max |cpu - cuda| = {gerr:.3e} (max |grad| {gscale:.3e})")
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize("threads", [2, 3])
def test_strip_worker_threads_give_identical_results(threads):
    """The no-grad strip kernels run in torch.get_num_threads() Python threads
    (the suite otherwise runs single-threaded): results must not depend on it."""
    x, y = _smooth_pair((2, 3, 200, 190), seed=21, noise=0.2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        ref = [ssim(x, y, 1.0), ms_ssim(x, y, 1.0), ssim(x.float(), y.float(), 1.0, precision="single")]
        torch.set_num_threads(threads)
        got = [ssim(x, y, 1.0), ms_ssim(x, y, 1.0), ssim(x.float(), y.float(), 1.0, precision="single")]
    finally:
        torch.set_num_threads(before)
    for a, b in zip(ref, got):
        assert torch.equal(a, b)


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("dtype,precision", [(torch.uint8, "auto"), (torch.float64, "auto"), (torch.float32, "single")])
def test_ms_ssim_first_scale_is_ssim(monkeypatch, native, dtype, precision):
    """The runner takes SSIM from MS-SSIM's first scale: it must be ssim() bit for bit."""
    from iqa_cli.metrics.ms_ssim import ms_ssim_and_ssim

    monkeypatch.setenv("IQA_NATIVE", native)
    g = torch.Generator().manual_seed(7)
    x = torch.randint(0, 256, (2, 3, 181, 197), generator=g, dtype=torch.uint8)
    y = (x.int() + torch.randint(-30, 31, x.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    L = 255.0
    if dtype != torch.uint8:
        x, y, L = x.to(dtype) / 255, y.to(dtype) / 255, 1.0
    ms, s = ms_ssim_and_ssim(x, y, L, precision=precision)
    assert torch.equal(s, ssim(x, y, L, precision=precision))
    assert torch.equal(ms, ms_ssim(x, y, L, precision=precision))
    assert 0.5 < float(s.min()) < float(s.max()) < 1.0


def test_ms_ssim_and_ssim_warn_flag():
    """The runner asks for no RuntimeWarning (warnings are process-global and
    its decode threads use them) and reports a NaN on its own pair."""
    from iqa_cli.metrics.ms_ssim import ms_ssim_and_ssim

    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 256, (1, 1, 180, 180), generator=g, dtype=torch.uint8)
    y = 255 - x  # anti-correlated: negative mean cs
    with pytest.warns(RuntimeWarning, match="negative similarity"):
        assert torch.isnan(ms_ssim_and_ssim(x, y, 255)[0]).all()
    with pytest.warns(RuntimeWarning, match="negative similarity") as rec:
        ms_ssim(x, y, 255)
    assert rec[0].filename == __file__  # the warning names the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ms, s = ms_ssim_and_ssim(x, y, 255, warn=False)
    assert torch.isnan(ms).all() and float(s[0]) < 0
