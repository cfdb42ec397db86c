"""Ignore masks: iqa_cli.io.masks (building masks) and iqa_cli.metrics.masked (metrics over unmasked data).

Expected values come from two independent places: the unmasked metric on the
crop inside a border-frame mask (the frame's valid terms are exactly the
crop's), and float64 numpy written from the definitions in ``oracles.py``,
with the valid windows found by brute force (any masked pixel in the K×K
support) rather than by a box filter.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracles as O
from conftest import smooth_image, write_png

from iqa_cli.io.masks import combine, load_mask, regions_to_mask
from iqa_cli.setting_values import parse_region
from iqa_cli.metrics import masked as M
from iqa_cli.metrics.local import diff_mask, ssim_below, ssim_min


def diff_pixels(x, y, tol=0.0):
    return diff_mask(x, y, tol).sum(dim=(1, 2))
from iqa_cli.metrics.ms_ssim import ms_ssim
from iqa_cli.metrics.pixel import mse, psnr
from iqa_cli.metrics.ssim import ssim
from iqa_cli.metrics.tv import total_variation

TV_KINDS = [
    (n, r)
    for n in ("l1", "isotropic", "l2_squared")
    for r in ("sum", "mean", "directional_mean")
    if not (n == "isotropic" and r == "directional_mean")
]


def pair(h, w, c, dtype="uint8", seed=0):
    """(x, y) as (1, C, H, W) tensors and their data range: a smooth image and a noisy copy."""
    a = smooth_image(h, w, c, seed=seed).astype(np.float64)
    rng = np.random.default_rng(seed + 100)
    b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255).round()
    if c == 1:
        a, b = a[..., None], b[..., None]
    t = [torch.from_numpy(v.transpose(2, 0, 1)[None].copy()) for v in (a, b)]
    if dtype == "uint8":
        return t[0].to(torch.uint8), t[1].to(torch.uint8), 255.0
    dt = {"float32": torch.float32, "float64": torch.float64}[dtype]
    return (t[0] / 255).to(dt), (t[1] / 255).to(dt), 1.0


def frame(h, w, b):
    m = np.ones((h, w), dtype=bool)
    m[b:-b, b:-b] = False
    return m


def crop(t, b):
    return t[..., b:-b, b:-b]


def planes(t):
    """(1, C, H, W) tensor -> list of float64 (H, W) numpy planes."""
    return [t[0, k].double().numpy() for k in range(t.shape[1])]


def valid_brute(ignore, k=11):
    return ~sliding_window_view(ignore, (k, k)).any(axis=(-2, -1))


def close(a, b, tol=1e-12):
    a = torch.as_tensor(a, dtype=torch.float64).flatten()
    b = torch.as_tensor(b, dtype=torch.float64).flatten()
    assert a.shape == b.shape
    assert torch.allclose(a, b, rtol=tol, atol=tol), (a, b)


# ---- the border-frame oracle ------------------------------------------------------------------

FRAME_CASES = [  # (H, W, C, dtype, b): odd and even sizes, grey and colour, uint8 and float
    (57, 64, 3, "uint8", 5),
    (61, 48, 1, "uint8", 3),
    (50, 73, 3, "float32", 7),
    (45, 45, 1, "float64", 1),
]


@pytest.mark.parametrize("h,w,c,dtype,b", FRAME_CASES)
def test_frame_oracle_ssim_family(h, w, c, dtype, b):
    x, y, L = pair(h, w, c, dtype)
    ig = frame(h, w, b)
    xc, yc = crop(x, b), crop(y, b)
    values, used, smap = M.masked_ssim(x, y, L, ig, return_map=True)
    ref, ref_map = ssim(xc, yc, L, return_map=True)
    close(values, ref)
    assert used == ref_map.shape[-1] * ref_map.shape[-2]
    # the map: NaN outside, the crop's map inside
    inner = smap[..., b:-b, b:-b] if b else smap
    assert inner.shape == ref_map.shape
    close(inner, ref_map)
    assert int(torch.isnan(smap[0, 0]).sum()) == smap[0, 0].numel() - used
    for block in (4, 16):
        close(M.masked_ssim_min(smap, block=block), ssim_min(ref_map, block))
        close(M.masked_ssim_min(smap, torch.from_numpy(valid_brute(ig)), block), ssim_min(ref_map, block))
    for level in (0.5, 0.9):
        close(M.masked_ssim_below(smap, level=level), ssim_below(ref_map, level))


@pytest.mark.parametrize("h,w,c,dtype,b", FRAME_CASES)
def test_frame_oracle_pixel_metrics_and_tv(h, w, c, dtype, b):
    x, y, L = pair(h, w, c, dtype, seed=3)
    ig = frame(h, w, b)
    xc, yc = crop(x, b), crop(y, b)
    close(M.masked_mse(x, y, ig), mse(xc, yc))
    close(M.masked_psnr(x, y, L, ig), psnr(xc, yc, L))
    tol = 1.0 / 255 if dtype != "uint8" else 0
    assert int(M.masked_diff_pixels(x, y, ig, tol)) == int(diff_pixels(xc, yc, tol))
    close(M.masked_diff_ratio(x, y, ig, tol), diff_pixels(xc, yc, tol).double() / (xc.shape[-1] * xc.shape[-2]))
    dm = M.masked_diff_mask(x, y, ig)
    assert not bool(dm[0][torch.from_numpy(ig)].any())
    for norm, red in TV_KINDS:
        got = M.masked_tv(x, ig, norm, red, data_range=L)
        ref = total_variation(xc.double() / L, norm, red)
        close(got, ref, 1e-11)


def test_frame_oracle_mse_exact_for_uint8():
    # integer squared differences: float64 sums are exact, so the values are equal bit for bit
    x, y, _ = pair(40, 37, 3)
    ig = frame(40, 37, 4)
    assert M.masked_mse(x, y, ig).item() == mse(crop(x, 4), crop(y, 4)).item()


@pytest.mark.parametrize("c,dtype", [(3, "uint8"), (1, "float32")])
def test_frame_oracle_ms_ssim(c, dtype):
    # b = 16 and crop sides 176, 192: every decimation keeps the crop's phase, so the valid
    # windows of every scale are the crop's
    h, w, b = 208, 224, 16
    x, y, L = pair(h, w, c, dtype, seed=5)
    ig = frame(h, w, b)
    ms, first, counts = M.masked_ms_ssim_and_ssim(x, y, L, ig)
    close(ms, ms_ssim(crop(x, b), crop(y, b), L))
    close(first, ssim(crop(x, b), crop(y, b), L))
    sides = [(176 // 2**s - 10) * (192 // 2**s - 10) for s in range(5)]
    assert counts == tuple(sides)
    values, counts2 = M.masked_ms_ssim(x, y, L, ig)
    close(values, ms)
    assert counts2 == counts


def test_ms_ssim_frame_off_phase_drops_the_edge_windows():
    # b = 8 breaks the phase at the fifth scale (8/16 is not whole): the 2x2 box at the crop's
    # edge reads a masked pixel, so the masked value is not the crop's; the numpy oracle
    # of the carried mask agrees with the implementation in both cases
    h, w = 208, 224
    x, y, L = pair(h, w, 1, seed=6)
    for b in (8, 16):
        ig = frame(h, w, b)
        got, counts = M.masked_ms_ssim(x, y, L, ig)
        ref, ref_counts = numpy_masked_msssim(planes(x)[0], planes(y)[0], ig, L)
        close(got, ref)
        assert counts == ref_counts
    assert abs(float(M.masked_ms_ssim(x, y, L, frame(h, w, 8))[0]) - float(ms_ssim(crop(x, 8), crop(y, 8), L))) > 1e-6


def test_frame_oracle_ssim_matlab_downsample():
    # f = 2 for the 420x400 image and its 404x384 crop (round(384/256) = 2); b = 8 and the even
    # crop sides keep the 2x2 boxes aligned with the crop's own
    h, w, b = 400, 420, 8
    x, y, L = pair(h, w, 3, seed=7)
    ig = frame(h, w, b)
    got, used = M.masked_ssim(x, y, L, ig, downsample="matlab")
    close(got, ssim(crop(x, b), crop(y, b), L, downsample="matlab"))
    assert used == (384 // 2 - 10) * (404 // 2 - 10)


# ---- independent numpy oracles for non-rectangular masks --------------------------------------


def holey_mask(h, w):
    """A rectangle, an L shape and a single pixel: nothing a crop could reproduce."""
    m = np.zeros((h, w), dtype=bool)
    m[5:12, 30:41] = True
    m[h - 15 : h - 3, 2:9] = True
    m[h - 9 : h - 3, 2:25] = True
    m[h // 2, w // 2] = True
    return m


def numpy_masked_ssim(xp, yp, ig, L):
    valid = valid_brute(ig)
    return float(np.mean([O.ssim_maps(a, b, L)[0][valid].mean() for a, b in zip(xp, yp)])), int(valid.sum())


def numpy_masked_msssim(a, b, ig, L, levels=5):
    """msssim.m per plane with the mask carried as any-of-the-2x2-box (symmetric end padding)."""
    terms, counts = [], []
    m = ig.astype(np.float64)
    for level in range(levels):
        valid = valid_brute(m > 0)
        counts.append(int(valid.sum()))
        s, cs = O.ssim_maps(a, b, L)
        terms.append((s if level == levels - 1 else cs)[valid].mean())
        a, b, m = (O.box_same_symmetric(z, 2)[::2, ::2] for z in (a, b, m))
    w = np.asarray(O.MSSSIM_WEIGHTS)
    return float(np.prod(np.power(terms, w))), tuple(counts)


@pytest.mark.parametrize("h,w,c,dtype", [(63, 70, 3, "uint8"), (58, 61, 1, "float64")])
def test_holey_mask_against_numpy(h, w, c, dtype):
    x, y, L = pair(h, w, c, dtype, seed=11)
    ig = holey_mask(h, w)
    xp, yp = planes(x), planes(y)
    got, used, smap = M.masked_ssim(x, y, L, ig, return_map=True)
    ref, ref_used = numpy_masked_ssim(xp, yp, ig, L)
    close(got, ref, 1e-11)
    assert used == ref_used
    valid = valid_brute(ig)
    assert np.array_equal(~np.isnan(smap[0, 0].numpy()), valid)
    mean_map = np.mean([O.ssim_maps(a, b, L)[0] for a, b in zip(xp, yp)], axis=0)
    assert float(M.masked_ssim_below(smap, level=0.8)) == pytest.approx((mean_map[valid] < 0.8).mean(), abs=1e-15)
    # mse / tv straight from the definitions
    d = np.stack(xp) - np.stack(yp)
    close(M.masked_mse(x, y, ig), (d[:, ~ig] ** 2).mean())
    keep = ~ig
    X = np.stack(xp) / L
    vh, vw = keep[1:] & keep[:-1], keep[:, 1:] & keep[:, :-1]
    dh, dw = X[:, 1:] - X[:, :-1], X[:, :, 1:] - X[:, :, :-1]
    close(M.masked_tv(x, ig, data_range=L), np.abs(dh[:, vh]).sum() + np.abs(dw[:, vw]).sum(), 1e-11)
    close(
        M.masked_tv(x, ig, "l2_squared", "directional_mean", data_range=L),
        (dh[:, vh] ** 2).sum() / (c * vh.sum()) + (dw[:, vw] ** 2).sum() / (c * vw.sum()),
        1e-11,
    )
    vi = vh[:, :-1] & vw[:-1, :]
    iso = np.sqrt(dh[:, :, :-1] ** 2 + dw[:, :-1, :] ** 2)
    close(M.masked_tv(x, ig, "isotropic", "mean", data_range=L), iso[:, vi].sum() / (c * vi.sum()), 1e-11)


def test_holey_mask_ms_ssim_and_matlab_downsample_against_numpy():
    h, w = 360, 333  # scale 5 is 23x21 px: room for windows beside the carried mask
    x, y, L = pair(h, w, 1, seed=12)
    ig = np.zeros((h, w), bool)
    ig[5:12, 30:41] = True
    ig[100:141, 151] = True  # an odd row span and column: the boxes straddling them are masked below
    ig[h - 2, w - 3] = True  # a single pixel in the last, odd-sized box
    a, b = planes(x)[0], planes(y)[0]
    got, counts = M.masked_ms_ssim(x, y, L, ig)
    ref, ref_counts = numpy_masked_msssim(a, b, ig, L)
    close(got, ref, 1e-11)
    assert counts == ref_counts and 0 < counts[-1] < 13 * 11
    h, w = 200, 190
    ig = holey_mask(h, w)
    # ssim.m with f = 3 (round(400/256) = 2 would be even; 768/256 = 3 is odd: anchor pre = 1)
    big = np.kron(ig, np.ones((4, 4), dtype=bool))[: 4 * h - 32, : 4 * w - 8]  # 768x752
    x4, y4, _ = pair(*big.shape, 1, seed=13)
    f = O.downsample_factor(*big.shape)
    assert f == 3
    da, db, dm = (O.box_same_symmetric(z, f)[::f, ::f] for z in (planes(x4)[0], planes(y4)[0], big.astype(float)))
    got, used = M.masked_ssim(x4, y4, L, big, downsample="matlab")
    ref, ref_used = numpy_masked_ssim([da], [db], dm > 0, L)
    close(got, ref, 1e-11)
    assert used == ref_used


def test_ssim_min_partial_blocks_against_numpy():
    h, w = 60, 66
    x, y, L = pair(h, w, 3, seed=14)
    ig = holey_mask(h, w)
    _, _, smap = M.masked_ssim(x, y, L, ig, return_map=True)
    m = smap[0].numpy().mean(axis=0)  # NaN where invalid, never read
    valid = valid_brute(ig)
    for block, min_valid in ((8, 1.0), (8, 0.5), (16, 0.0), (16, 1.0)):
        best = math.inf
        for i in range(m.shape[0] - block + 1):
            for j in range(m.shape[1] - block + 1):
                v = valid[i : i + block, j : j + block]
                if v.sum() == 0 or v.sum() < min_valid * block * block:
                    continue
                best = min(best, m[i : i + block, j : j + block][v].mean())
        assert float(M.masked_ssim_min(smap, block=block, min_valid=min_valid)) == pytest.approx(best, abs=1e-13)
    # a partly covered block can only lower the minimum
    assert float(M.masked_ssim_min(smap, block=16, min_valid=0.0)) <= float(M.masked_ssim_min(smap, block=16))


# ---- changes inside / just outside the ignored region -----------------------------------------


@pytest.mark.parametrize("c,dtype", [(3, "uint8"), (1, "float32")])
def test_change_inside_region_is_invisible_and_one_pixel_outside_is_not(c, dtype):
    h, w = 336, 353  # scale 5 of MS-SSIM (21x23 px) keeps windows beside the region
    x, _, L = pair(h, w, c, dtype, seed=20)
    region = (60, 40, 37, 23)  # X, Y, W, H
    ig = regions_to_mask([region], h, w)
    X0, Y0, RW, RH = region
    inside = x.clone()
    inside[..., Y0 : Y0 + RH, X0 : X0 + RW] = (L - inside[..., Y0 : Y0 + RH, X0 : X0 + RW].double()).to(x.dtype)
    outside = inside.clone()
    outside[..., Y0 + RH, X0 + 5] = (L - outside[..., Y0 + RH, X0 + 5].double()).to(x.dtype)  # the row below

    def all_metrics(a, b):
        s, _, smap = M.masked_ssim(a, b, L, ig, return_map=True)
        return {
            "ssim": s, "ms_ssim": M.masked_ms_ssim(a, b, L, ig)[0], "mse": M.masked_mse(a, b, ig),
            "psnr": M.masked_psnr(a, b, L, ig), "diff": M.masked_diff_pixels(a, b, ig).double(),
            "ratio": M.masked_diff_ratio(a, b, ig), "ssim_min": M.masked_ssim_min(smap),
            "below": M.masked_ssim_below(smap, level=0.9999), "matlab": M.masked_ssim(a, b, L, ig, downsample="matlab")[0],
        }

    same = all_metrics(x, inside)
    assert float(same["mse"]) == 0 and math.isinf(float(same["psnr"]))
    assert float(same["diff"]) == 0 and float(same["ratio"]) == 0 and float(same["below"]) == 0
    for k in ("ssim", "ms_ssim", "ssim_min", "matlab"):
        assert abs(float(same[k]) - 1.0) < 1e-12, k
    # TV of the changed image equals TV of the original over the unmasked terms
    for norm, red in TV_KINDS:
        close(M.masked_tv(inside, ig, norm, red, data_range=L), M.masked_tv(x, ig, norm, red, data_range=L), 1e-11)
    moved = all_metrics(x, outside)
    assert float(moved["diff"]) == 1 and float(moved["ratio"]) == pytest.approx(1 / (h * w - RW * RH))
    assert float(moved["mse"]) > 0 and math.isfinite(float(moved["psnr"]))
    for k in ("ssim", "ms_ssim", "ssim_min", "matlab"):
        assert float(moved[k]) < 1.0 - 1e-9, k  # one pixel among ~10^5 windows
    assert float(moved["below"]) > 0
    tv_in = M.masked_tv(inside, ig, data_range=L)
    assert abs(float(M.masked_tv(outside, ig, data_range=L) - tv_in)) > 1e-3


def test_no_mask_equals_unmasked_metrics():
    x, y, L = pair(50, 47, 3, seed=21)
    close(M.masked_ssim(x, y, L, None)[0], ssim(x, y, L))
    close(M.masked_ssim(x, y, L, np.zeros((50, 47), bool))[0], ssim(x, y, L))
    close(M.masked_mse(x, y, None), mse(x, y))
    close(M.masked_tv(x, None, data_range=L), total_variation(x, data_range=L), 1e-11)


def test_batch_of_images_shares_the_mask():
    x1, y1, L = pair(48, 52, 3, seed=22)
    x2, y2, _ = pair(48, 52, 3, seed=23)
    ig = holey_mask(48, 52)
    got, _ = M.masked_ssim(torch.cat([x1, x2]), torch.cat([y1, y2]), L, torch.from_numpy(ig))
    close(got, torch.cat([M.masked_ssim(x1, y1, L, ig)[0], M.masked_ssim(x2, y2, L, ig)[0]]))
    close(M.masked_mse(torch.cat([x1, x2]), torch.cat([y1, y2]), ig), torch.cat([M.masked_mse(x1, y1, ig), M.masked_mse(x2, y2, ig)]))


# ---- masks from regions and from files ---------------------------------------------------------


def test_regions_and_parse_region():
    m = regions_to_mask([(1, 2, 3, 4), parse_region(" 5 , 0,2,1 ")], 8, 10)
    ref = np.zeros((8, 10), bool)
    ref[2:6, 1:4] = True
    ref[0:1, 5:7] = True
    assert m.dtype == bool and np.array_equal(m, ref)
    assert np.array_equal(regions_to_mask([(0, 0, 10, 8)], 8, 10), np.ones((8, 10), bool))
    assert parse_region("3,4,5,6") == (3, 4, 5, 6)


@pytest.mark.parametrize("region", [(8, 0, 3, 1), (0, 7, 1, 2), (-1, 0, 2, 2), (0, 0, 11, 8)])
def test_region_outside_the_image_names_it(region):
    with pytest.raises(ValueError, match=r"region " + ",".join(map(str, region)).replace("-", r"\-") + " reaches outside the 10x8"):
        regions_to_mask([(0, 0, 1, 1), region], 8, 10)


@pytest.mark.parametrize("region", [(1, 1, 0, 3), (1, 1, 3, 0), (1, 1, -2, 3)])
def test_zero_size_region(region):
    with pytest.raises(ValueError, match="zero size"):
        regions_to_mask([region], 8, 10)


@pytest.mark.parametrize("text", ["1,2,3", "1,2,3,4,5", "a,b,c,d", "1.5,2,3,4", "", "1;2;3;4"])
def test_parse_region_errors_are_one_line(text):
    with pytest.raises(ValueError) as e:
        parse_region(text)
    assert "\n" not in str(e.value) and "X,Y,W,H" in str(e.value)


def test_load_mask_grey_rgb_alpha(tmp_path):
    h, w = 30, 41
    ref = regions_to_mask([(3, 4, 10, 6), (30, 20, 11, 10)], h, w)
    grey = np.where(ref, 255, 0).astype(np.uint8)
    assert np.array_equal(load_mask(write_png(tmp_path / "g.png", grey), h, w), ref)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 1] = np.where(ref, 1, 0)  # any non-zero channel, however dark
    assert np.array_equal(load_mask(write_png(tmp_path / "rgb.png", rgb), h, w), ref)
    g16 = np.where(ref, 1, 0).astype(np.uint16)
    assert np.array_equal(load_mask(write_png(tmp_path / "g16.png", g16), h, w), ref)
    # alpha: white everywhere, visible only on the regions -> only the regions are ignored
    rgba = np.full((h, w, 4), 255, np.uint8)
    rgba[..., 3] = np.where(ref, 255, 0)
    assert np.array_equal(load_mask(write_png(tmp_path / "rgba.png", rgba), h, w), ref)
    # opaque black is kept; grey + alpha
    la = np.stack([np.where(ref, 200, 0), np.full((h, w), 255)], axis=-1).astype(np.uint8)
    assert np.array_equal(load_mask(write_png(tmp_path / "la.png", la), h, w), ref)


def test_mask_file_and_regions_give_the_same_metrics(tmp_path):
    h, w = 64, 70
    x, y, L = pair(h, w, 3, seed=30)
    regions = [(10, 5, 20, 15), (40, 40, 25, 20)]
    from_regions = regions_to_mask(regions, h, w)
    path = write_png(tmp_path / "mask.png", np.where(from_regions, 255, 0).astype(np.uint8))
    from_file = load_mask(path, h, w)
    a = M.masked_ssim(x, y, L, from_file)
    b = M.masked_ssim(x, y, L, combine(regions_to_mask(regions[:1], h, w), regions_to_mask(regions[1:], h, w)))
    assert a[1] == b[1] and torch.equal(a[0], b[0])
    ref, used = numpy_masked_ssim(planes(x), planes(y), from_regions, L)
    close(a[0], ref, 1e-11)
    assert a[1] == used


def test_wrong_size_mask_file_names_file_and_sizes(tmp_path):
    path = write_png(tmp_path / "clock-mask.png", np.zeros((20, 30), np.uint8))
    with pytest.raises(ValueError, match=r"clock-mask\.png is 30x20 px but the images are 31x20 px"):
        load_mask(path, 20, 31)
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"hello")
    with pytest.raises(ValueError, match=r"not-an-image\.png: cannot be read"):
        load_mask(bad, 20, 30)


def test_combine():
    a = regions_to_mask([(0, 0, 2, 2)], 4, 5)
    b = regions_to_mask([(3, 2, 2, 2)], 4, 5)
    assert np.array_equal(combine(a, None, b), a | b)
    assert combine(None, None) is None
    assert combine(a) is not a and np.array_equal(combine(a), a)
    with pytest.raises(ValueError, match="differ in size"):
        combine(a, np.zeros((5, 4), bool))


# ---- nothing left, bad masks -------------------------------------------------------------------


def test_nothing_left_raises_one_line_reasons():
    h, w = 40, 42
    x, y, L = pair(h, w, 1, seed=40)
    every = np.ones((h, w), bool)
    with pytest.raises(ValueError, match=r"^ssim: no 11x11 window is free of the mask$"):
        M.masked_ssim(x, y, L, every)
    # a grid of single masked pixels every 10 px: each pixel unmasked, but no 11x11 window is clean
    grid = np.zeros((h, w), bool)
    grid[::10, ::10] = True
    with pytest.raises(ValueError, match="ssim: no 11x11 window"):
        M.masked_ssim(x, y, L, grid)
    assert float(M.masked_mse(x, y, grid)) > 0
    with pytest.raises(ValueError, match=r"^mse: every pixel is masked$"):
        M.masked_mse(x, y, every)
    with pytest.raises(ValueError, match="every pixel is masked"):
        M.masked_psnr(x, y, L, every)
    with pytest.raises(ValueError, match="diff_ratio: every pixel is masked"):
        M.masked_diff_ratio(x, y, every)
    assert int(M.masked_diff_pixels(x, y, every)) == 0
    checker = (np.add.outer(np.arange(h), np.arange(w)) % 2).astype(bool)  # no two unmasked neighbours
    with pytest.raises(ValueError, match="tv: no difference term"):
        M.masked_tv(x, checker)
    nan_map = torch.full((1, 1, 20, 20), float("nan"), dtype=torch.float64)
    with pytest.raises(ValueError, match="ssim_min: no window"):
        M.masked_ssim_min(nan_map)
    with pytest.raises(ValueError, match="ssim_below: no window"):
        M.masked_ssim_below(nan_map)
    ring = torch.zeros((1, 1, 20, 20), dtype=torch.float64)  # valid windows only on a thin ring
    valid = torch.zeros((20, 20), dtype=torch.bool)
    valid[0, :] = valid[-1, :] = valid[:, 0] = valid[:, -1] = True
    with pytest.raises(ValueError, match="ssim_min: no 16x16 block"):
        M.masked_ssim_min(ring, valid, 16)
    assert float(M.masked_ssim_min(ring, valid, 16, min_valid=0.1)) == 0.0


def test_ms_ssim_nothing_left_names_the_scale():
    h, w = 180, 200
    x, y, L = pair(h, w, 1, seed=41)
    ig = np.zeros((h, w), bool)
    ig[:, 95:101] = True  # scale 5 is 12x13 px: its two windows both reach the masked column
    with pytest.raises(ValueError, match=r"ms_ssim: no 11x11 window of scale 5 \(13x12 px\) is free of the mask"):
        M.masked_ms_ssim(x, y, L, ig)
    with pytest.raises(ValueError, match="at least 176x176"):
        M.masked_ms_ssim(x[..., :170, :], y[..., :170, :], L, ig[:170])


def test_bad_masks():
    x, y, L = pair(30, 32, 1)
    with pytest.raises(ValueError, match=r"the ignore mask is 30x32 px but the images are 32x30 px"):
        M.masked_ssim(x, y, L, np.zeros((32, 30), bool))
    with pytest.raises(TypeError, match="bool"):
        M.masked_mse(x, y, np.zeros((30, 32), np.uint8))
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        M.masked_ssim(x[..., :10, :], y[..., :10, :], L, None)


# ---- the two computation paths ------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 11, 16])
def test_valid_windows_brute_force(k):
    rng = np.random.default_rng(k)
    ig = rng.random((40, 37)) < 0.01
    assert np.array_equal(M.valid_windows(torch.from_numpy(ig), k).numpy(), valid_brute(ig, k))


def test_rectangles_and_map_paths_agree(monkeypatch):
    h, w = 352, 345
    x, y, L = pair(h, w, 3, seed=50)
    ig = np.zeros((h, w), bool)
    ig[50:70, 40:90] = True
    ig[300:330, 280:300] = True
    ig[200, 10] = True
    rects = M.valid_rectangles(M.valid_windows(torch.from_numpy(ig)), 11)
    assert rects is not None and len(rects) > 3
    cover = np.zeros((h - 10, w - 10), int)
    for r0, r1, c0, c1 in rects:
        cover[r0:r1, c0:c1] += 1
    assert np.array_equal(cover, valid_brute(ig).astype(int))  # disjoint and exact
    fast = M.masked_ssim(x, y, L, ig), M.masked_ms_ssim_and_ssim(x, y, L, ig)
    monkeypatch.setattr(M, "MAX_RECTANGLES", 0)  # every call takes the map path
    slow = M.masked_ssim(x, y, L, ig), M.masked_ms_ssim_and_ssim(x, y, L, ig)
    close(fast[0][0], slow[0][0])
    for a, b in zip(fast[1][:2], slow[1][:2]):
        close(a, b)
    assert fast[0][1] == slow[0][1] and fast[1][2] == slow[1][2]


def test_scattered_mask_takes_the_map_path():
    h, w = 90, 95
    x, y, L = pair(h, w, 1, seed=51)
    ig = np.zeros((h, w), bool)
    ig[::13, ::9] = True
    ig[::13, 4::9] = False
    ig[6::13, ::7] = True
    assert M.valid_rectangles(M.valid_windows(torch.from_numpy(ig), 3), 3) is None
    got, used = M.masked_ssim(x, y, L, ig, window_size=3, sigma=0.5)
    g = O.gaussian_1d(3, 0.5)
    a, b = planes(x)[0], planes(y)[0]
    lum, cs = O.lum_cs_maps(a, b, lambda z: O.corr2d_valid(z, g), (0.01 * L) ** 2, (0.03 * L) ** 2)
    valid = valid_brute(ig, 3)
    close(got, (lum * cs)[valid].mean(), 1e-11)
    assert used == int(valid.sum())
