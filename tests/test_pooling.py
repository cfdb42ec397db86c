"""Pooling per-frame values: each pool against a direct numpy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iqa_cli.metrics import pooling as P

RNG = np.random.default_rng(7)


def test_mean_min_harmonic_p1_of_a_higher_is_better_metric():
    v = RNG.uniform(0.5, 1.0, 250)
    pooled = P.pool_all(list(v), "higher")
    assert pooled.mean == pytest.approx(np.mean(v), abs=1e-15)
    assert pooled.min == v.min() and pooled.worst_frame == int(np.argmin(v))
    assert pooled.harmonic == pytest.approx(len(v) / np.sum(1 / v), rel=1e-14)
    assert pooled.harmonic < pooled.mean  # weighs bad frames more
    # 1 % low of 250 frames: the mean of the worst ceil(2.5) = 3
    assert pooled.p1 == pytest.approx(np.sort(v)[:3].mean(), abs=1e-15)
    assert pooled.n == 250 and pooled.left_out == 0


def test_lower_is_better_pools_take_the_largest_values_as_worst():
    v = RNG.uniform(0, 100, 150)
    pooled = P.pool_all(list(v), "lower")
    assert pooled.min == v.max() and pooled.worst_frame == int(np.argmax(v))
    assert pooled.p1 == pytest.approx(np.sort(v)[-2:].mean(), abs=1e-13)  # ceil(1.5) = 2 worst
    assert pooled.harmonic is None  # not a "bad frames first" pool for errors
    assert P.pool_all([1.0, 2.0], "none") == P.Pooled(1.5, None, None, None, 2, 0, None)


def test_up_to_100_frames_p1_is_the_worst_frame():
    v = list(RNG.uniform(0, 1, 100))
    assert P.p1(v) == min(v) and P.p1(v + [0.5]) == pytest.approx((min(v) + sorted(v)[1]) / 2)


def test_nan_and_none_are_left_out_and_counted():
    v = [0.9, float("nan"), None, 0.7, 0.8]
    pooled = P.pool_all(v, "higher")
    assert pooled.n == 3 and pooled.left_out == 2
    assert pooled.mean == pytest.approx(0.8) and pooled.min == 0.7 and pooled.worst_frame == 3
    assert P.pool_all([None, float("nan")], "higher") == P.Pooled(None, None, None, None, 0, 2, None)


def test_harmonic_is_undefined_at_or_below_zero():
    assert P.harmonic([0.5, 0.0]) is None and P.harmonic([0.5, -0.1]) is None
    assert P.harmonic([0.5, 1.0]) == pytest.approx(2 / 3)


def test_pool_names():
    pooled = P.pool_all([1.0, 3.0], "higher")
    assert [pooled.get(k) for k in P.POOLS] == [2.0, 1.0, 1.5, 1.0]
    with pytest.raises(ValueError, match="pool must be one of mean, min, harmonic, p1"):
        pooled.get("median")
    with pytest.raises(ValueError, match="direction"):
        P.worst([1.0], "up")


def test_psnr_mean_db_counts_identical_frames_at_the_cap():
    L = 255.0
    mse = np.concatenate([RNG.uniform(0.5, 40.0, 20), [0.0, 0.0, 1e-4]])
    cap = P.psnr_cap(8)
    assert cap == 60.0 and P.psnr_cap(10) == 72.0 and P.psnr_cap(16) == 108.0
    per = np.where(mse > 0, 10 * np.log10(L * L / np.where(mse > 0, mse, 1)), np.inf)
    expect = np.minimum(per, cap).mean()
    got = P.psnr_mean_db(list(mse), L, cap)
    assert got.value == pytest.approx(expect, abs=1e-12)
    assert got.capped_frames == 3 and got.cap_db == 60.0 and got.n == 23  # 1e-4 is 88 dB: at the cap too
    # mean of dB >= dB of the mean MSE (Jensen): the two poolings differ
    total = P.psnr_total(float(mse.sum()) * 1000, 23 * 1000, L)
    assert total == pytest.approx(10 * np.log10(L * L / mse.mean()), abs=1e-12)
    assert P.psnr_mean_db(list(mse[:20]), L, cap).value > P.psnr_total(float(mse[:20].sum()), 20, L)


def test_psnr_total_from_the_summed_squared_error():
    L = 1023.0
    a = RNG.integers(0, 1024, (5, 30, 40))
    b = np.clip(a + RNG.integers(-6, 7, a.shape), 0, 1023)
    sse = float(((a - b).astype(np.float64) ** 2).sum())
    assert P.psnr_total(sse, a.size, L) == pytest.approx(10 * math.log10(L * L * a.size / sse), abs=1e-12)
    assert P.psnr_total(0.0, 10, L) == math.inf
    with pytest.raises(ValueError):
        P.psnr_total(1.0, 0, L)


def test_capped_keeps_nan_and_none():
    assert P.capped([math.inf, 70.0, 30.0, None, float("nan")], 60.0)[:4] == [60.0, 60.0, 30.0, None]
    assert math.isnan(P.capped([float("nan")], 60.0)[0])
